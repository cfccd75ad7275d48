"""The log entry: a brain dump read into sections (hypothesis, experiments with their runs, observations,
conclusions, what didn't work, open questions, next steps), with its schema, Markdown and grounding check."""
