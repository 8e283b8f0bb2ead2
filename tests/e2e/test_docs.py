"""The /docs page: served whole by the service itself, and rendering every route in Chromium."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import requests
from flask.testing import FlaskClient

from harness.gunicorn import serving
from tests.chromium import FLAGS, chromium


def test_the_page_and_its_assets_come_from_the_service(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp
    html = page.get_data(as_text=True)
    assert "<script>" not in html  # no inline script: the CSP forbids it
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(source.startswith("/docs/") for source in sources), sources  # no CDN
    for source in sources:
        with client.get(source) as asset:  # a file, streamed: closed once checked
            assert asset.status_code == 200, source


def test_chromium_renders_every_operation(tmp_path: Path) -> None:
    browser = chromium()
    with serving() as (url, _):
        spec = requests.get(f"{url}/openapi.json", timeout=5).json()
        rendered = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                *FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=15000",
                "--dump-dom",
                f"{url}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    described = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }
    shown = set(
        re.findall(r'class="opblock opblock-(\w+)[^"]*".*?data-path="([^"]+)"', rendered, re.S)
    )
    assert shown == described
