"""Side-by-side benchmarks of edgekit against the libraries people use today.

Each layer has a package ``benchmarks/<layer>/`` runnable as
``python -m benchmarks.<layer> [--quick]``; ``python -m benchmarks`` runs them
all. Results go to ``benchmarks/results/<layer>.json`` and ``.md``.
"""
