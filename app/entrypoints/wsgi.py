"""The WSGI entry point gunicorn serves: `accounts-service run`, or
`gunicorn -c python:app.entrypoints.gunicorn_settings app.entrypoints.wsgi:app`."""

import sys

from app.config import ConfigurationError, settings
from app.entrypoints.http import create_app
from app.entrypoints.sandbox_beside import beside_the_demo

try:
    beside_the_demo(settings())
    app = create_app()
except ConfigurationError as error:
    # One line that says what to fix, rather than a traceback through gunicorn's loader.
    sys.exit(f"accounts-service: {error}")
