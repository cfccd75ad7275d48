"""The demo (`labbook demo`): a real experiment's history trained with scikit-learn and logged to a local MLflow
server (`story.py`, `runs.py`), then a Labbook project synced from it with brain dumps and a decision (`seed.py`).

Only the CLI imports this package; it is the one place besides integrations/mlflow/ that imports mlflow.
"""
