"""Use cases: each function takes a session first, then keyword-only arguments, and returns API schemas."""
