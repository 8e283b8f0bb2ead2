"""Benchmarks of the service and of its peers; each runs as a module from the repository root
(`.venv/bin/python -m bench.hot_path`), and measures this machine."""
