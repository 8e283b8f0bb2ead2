"""The WSGI app for `gunicorn -c gunicorn.conf.py wsgi:app` in a checkout: the package's."""

from app.entrypoints.wsgi import app

__all__ = ["app"]
