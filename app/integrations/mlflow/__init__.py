"""MLflow: the only package that imports mlflow (the client, `mlflow-skinny`). Reads runs for the sync and writes
Labbook's section and `labbook.*` tags back to runs; returns and accepts plain dataclasses, never MLflow entities."""
