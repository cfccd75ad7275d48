"""Labbook: the narrative layer for ML experiments."""

__version__ = "0.1.0"
