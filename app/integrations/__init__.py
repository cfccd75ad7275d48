"""Adapters to the outside tools Labbook talks to (MLflow, Slack). Each speaks plain types to services/."""
