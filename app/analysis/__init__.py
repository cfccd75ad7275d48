"""Pure findings over an experimental history: `findings.analyze(AnalysisInput) -> Findings`.

The types live in `model.py`; each module here computes one kind of fact from plain run views (configurations,
noise, baseline, approaches, progress, reproducibility) and `findings.py` puts them together. No I/O, no clock.
"""
