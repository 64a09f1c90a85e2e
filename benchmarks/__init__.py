"""Benchmarks of the hub: sync throughput (``bench_sync``) and the XML feed (``bench_feed``).

Run them from the repository root as modules, e.g. ``.venv/bin/python -m benchmarks.bench_sync``;
results and how to read them are in ``docs/benchmarks.md``.
"""
