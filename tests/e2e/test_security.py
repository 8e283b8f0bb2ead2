"""Through live gunicorn: what is never revealed, and a long query answered by the service, not by
gunicorn (the headers, CORS and the limit itself: tests/unit/test_security.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from flask.testing import FlaskClient

from harness.gunicorn import serving


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    with serving() as (url, _):
        yield url


def test_no_version_or_framework_is_revealed(live_url: str) -> None:
    for path in ["/users/user123/accounts", "/users/nobody/accounts", "/nope"]:
        response = requests.get(f"{live_url}{path}", timeout=5)
        assert response.headers["Server"] == "gunicorn"  # gunicorn's, without its version
        everything = str(response.headers) + response.text
        for revealing in ["Werkzeug", "Python", "Flask", "gunicorn/"]:
            assert revealing not in everything


def test_a_very_long_query_string_is_a_json_400(client: FlaskClient, live_url: str) -> None:
    long_query = "type=credit&" * (2048 // 12 + 1)
    response = client.get(f"/users/user123/accounts?{long_query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert "longer than 2048 bytes" in response.json["detail"]
    # Through gunicorn too: the limit is below gunicorn's, whose own answer would be HTML.
    live = requests.get(f"{live_url}/users/user123/accounts?{long_query}", timeout=5)
    assert live.status_code == 400
    assert live.headers["Content-Type"] == "application/problem+json"
