"""Pure findings over an experimental history: `findings.analyze(AnalysisInput) -> Findings`.

The types live in `model.py`; each module here computes one kind of fact from plain run views (configurations,
noise, baseline, families and approaches, progress, reproducibility, the options for a next run) and `findings.py`
puts them together. No I/O, no clock. Every term is defined once, as computed here, in docs/definitions.md.
"""
