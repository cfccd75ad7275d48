"""What people paste, read into plain values: run tables (Markdown, CSV, W&B exports), their columns, packed
cells and the numbers in them, and the one way Labbook writes a number back. Imports no other layer of the app."""
