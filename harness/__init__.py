"""The process harness the tests and the benchmarks share: gunicorn started with the project's
own settings on a port it picks (`gunicorn.py`), and a TCP proxy a test cuts, freezes and
restores to play a server that goes away (`tcp_proxy.py`). Imported from the repository's root:
by pytest, and by the benchmarks run as modules (`python -m bench.walkthrough`)."""

from pathlib import Path

#: The repository's root, where gunicorn.conf.py and wsgi.py are.
REPO_ROOT = Path(__file__).resolve().parent.parent
