"""The text Labbook writes back to MLflow: the Labbook section of a run's description and the `labbook.*` tags."""
