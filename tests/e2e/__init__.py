"""Tests of the whole thing from outside: live gunicorn, worker processes, nginx, Chromium, the
commands a user types, and the pages whose commands must run as written."""
