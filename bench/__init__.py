"""Benchmarks of 舆情台账; each sub-package has a ``run.py`` that writes its section of docs/BENCHMARKS.md."""
