"""gunicorn settings for a checkout (`gunicorn -c gunicorn.conf.py wsgi:app`): the package's."""

from app.entrypoints.gunicorn_settings import *  # noqa: F403
