"""Pipelines: Dask generation, manifests and audits, datasets, training, evaluation,
benchmarks and the command-line tools. May import :mod:`synth` and :mod:`model`."""
