"""SQL storage: the only layer that builds queries. Functions flush and never commit (the request's session does)."""
