"""Composing runs from what people paste: run tables and the numbers in them."""
