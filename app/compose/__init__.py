"""Composing entries: every kind (the log entry and the documents) under one contract (`contract.py`, `kinds.py`),
and the text Labbook writes back to MLflow (`writeback/`). Pure: no I/O, no clock, no analysis of its own."""
