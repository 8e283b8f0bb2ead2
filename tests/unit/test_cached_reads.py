"""Cached reads answered in front of Flask (app/entrypoints/http/cached_reads.py): what they answer
is what Flask answers, and everything Flask would refuse still goes to Flask."""

from __future__ import annotations

import json
import time
from datetime import datetime, tzinfo
from typing import Any

import jwt.api_jwt
import pytest
from flask import Flask
from werkzeug.test import TestResponse

from app import create_app
from app.adapters.metrics import REQUESTS
from app.adapters.tokens import TokenVerifier, mint_token
from tests.conftest import SEED_FILE
from tests.unit.test_auth import SECRET

READS = [
    "/users/user123/accounts",
    "/users/user123/accounts?type=credit,loan",
    "/users/user123/accounts?type=loan&type=credit&status=open",
    "/users/user789/accounts?subtype=mortgage&subtype=checking",
    "/users/user789/summary",
]


class CountingFlask:
    """An app whose Flask request handling is counted, so a test sees which path answered."""

    def __init__(self, **config: Any) -> None:
        self.app: Flask = create_app({"SEED_DATA": str(SEED_FILE), **config})
        self.through_flask = 0

        def count() -> None:
            self.through_flask += 1

        # First of all the hooks, so that a request Flask refuses early is counted too.
        self.app.before_request_funcs.setdefault(None, []).insert(0, count)
        self.client = self.app.test_client()

    def get(self, path: str, **headers: str) -> tuple[TestResponse, bool]:
        """The answer, and whether Flask gave it."""
        before = self.through_flask
        response = self.client.get(path, headers=headers)
        return response, self.through_flask > before


def comparable(response: TestResponse) -> tuple[str, list[tuple[str, str]], bytes]:
    headers = [(name, value) for name, value in response.headers if name != "X-Request-ID"]
    return response.status, headers, response.get_data()


@pytest.fixture
def served() -> CountingFlask:
    return CountingFlask()


#: A header that sends a request to Flask (a cross-origin request is Flask-CORS's), which changes
#: nothing else in the answer when no origin is allowed.
TO_FLASK = {"Origin": "https://nowhere.example"}


@pytest.mark.parametrize("path", READS)
def test_a_read_is_answered_in_front_of_flask_exactly_as_flask_answers(
    served: CountingFlask, path: str
) -> None:
    missed, by_flask = served.get(path)  # rendered in front, through the view's own function
    assert missed.status_code == 200
    assert not by_flask
    flask_answer, by_flask = served.get(path, **TO_FLASK)
    assert by_flask
    hit, by_flask = served.get(path)
    assert not by_flask
    assert comparable(missed) == comparable(flask_answer) == comparable(hit)
    assert missed.headers["X-Request-ID"] != hit.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "condition", ['"{tag}"', 'W/"{tag}"', '"other", "{tag}"', "*", "{tag}", ' "x" ,W/"{tag}" ']
)
def test_a_conditional_hit_is_the_same_304(served: CountingFlask, condition: str) -> None:
    tag = served.get(READS[0])[0].headers["ETag"].strip('"')
    header = condition.format(tag=tag)
    flask_answer, _ = served.get(READS[0], **{"If-None-Match": header}, **TO_FLASK)
    fast_answer, by_flask = served.get(READS[0], **{"If-None-Match": header})
    assert not by_flask
    assert fast_answer.status_code == 304
    assert comparable(fast_answer) == comparable(flask_answer)


def test_a_tag_that_does_not_match_gets_the_body(served: CountingFlask) -> None:
    served.get(READS[0])
    response, by_flask = served.get(READS[0], **{"If-None-Match": '"nope"'})
    assert not by_flask
    assert response.status_code == 200
    assert response.json
    assert response.json["userId"] == "user123"


def test_a_hit_keeps_the_request_id_log_line_and_metrics(
    served: CountingFlask, capsys: pytest.CaptureFixture[str]
) -> None:
    served.get(READS[0])
    capsys.readouterr()
    counted = REQUESTS.labels("GET", "/users/<id:user_id>/accounts", "200")
    before = counted._value.get()
    response, by_flask = served.get(READS[0], **{"X-Request-ID": "trace-7"})
    assert not by_flask
    assert response.headers["X-Request-ID"] == "trace-7"
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert {name: line[name] for name in ("logger", "request_id", "method", "route", "status")} == {
        "logger": "app.requests",
        "request_id": "trace-7",
        "method": "GET",
        "route": "/users/<id:user_id>/accounts",
        "status": 200,
    }
    assert line["bytes"] == len(response.get_data())
    assert list(line) == ["time", "level", "logger", "message", "request_id", "method", "route",
                          "status", "duration_ms", "bytes"]  # fmt: skip
    assert counted._value.get() == before + 1
    # An id that could forge a log line is replaced, as Flask replaces it.
    response, _ = served.get(READS[0], **{"X-Request-ID": "a b"})
    assert response.headers["X-Request-ID"] != "a b"
    assert len(response.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/users/user123/accounts?typ=credit", 400),
        ("/users/user123/accounts?type=bogus", 400),
        ("/users/user123/accounts?type=", 400),
        ("/users/nobody/accounts", 404),
        ("/users/nobody/summary", 404),
        ("/users/user123/summary?type=credit", 400),
    ],
)
def test_what_flask_would_refuse_goes_to_flask(
    served: CountingFlask, path: str, status: int
) -> None:
    served.get(READS[0])
    response, by_flask = served.get(path)
    assert by_flask
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_head_and_cross_origin_requests_go_to_flask() -> None:
    served = CountingFlask(CORS_ORIGINS=["https://app.example"])
    served.get(READS[0])
    response = served.client.head(READS[0])
    assert response.status_code == 200
    response, by_flask = served.get(READS[0], Origin="https://app.example")
    assert by_flask
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"


def test_only_a_token_flask_would_accept_is_answered_in_front_of_it() -> None:
    served = CountingFlask(AUTH="jwt", JWT_SECRET=SECRET)
    own, admin = mint_token("user123", SECRET), mint_token("ops", SECRET, admin=True)
    other, expired = mint_token("user456", SECRET), mint_token("user123", SECRET, expires_in=-60)
    assert served.get(READS[0], Authorization=f"Bearer {own}")[0].status_code == 200
    for token in [own, admin]:
        response, by_flask = served.get(READS[0], Authorization=f"Bearer {token}")
        assert (response.status_code, by_flask) == (200, False)
    for headers, expected in [
        ({}, 401),
        ({"Authorization": f"Bearer {other}"}, 403),
        ({"Authorization": f"Bearer {expired}"}, 401),
        ({"Authorization": f"Bearer {own}x"}, 401),
        ({"Authorization": f"Basic {own}"}, 401),
    ]:
        response, by_flask = served.get(READS[0], **headers)
        assert (response.status_code, by_flask) == (expected, True)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The time, as both our verifier and PyJWT read it, moved by the test."""
    now = [time.time()]

    class MovedDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> MovedDatetime:
            return cls.fromtimestamp(now[0], tz)

    monkeypatch.setattr("app.adapters.tokens.time.time", lambda: now[0])
    monkeypatch.setattr(jwt.api_jwt, "datetime", MovedDatetime)
    return now


def test_a_remembered_token_is_refused_once_it_expires(clock: list[float]) -> None:
    verifier = TokenVerifier(SECRET, "HS256")
    token = mint_token("user123", SECRET, expires_in=60)
    principal = verifier.cached_principal(token)
    assert principal is not None
    assert principal.user_id == "user123"
    clock[0] += 60 + 5  # within the clock skew allowed, as PyJWT allows it
    assert verifier.cached_principal(token) == principal
    clock[0] += 10
    assert verifier.cached_principal(token) is None
    assert verifier.cached_principal("not.a.token") is None


def test_a_request_over_its_budget_is_counted_once_and_refused_by_flask() -> None:
    served = CountingFlask(RATE_LIMIT_PER_ADDRESS="3 per minute")
    answers = [served.get(READS[0]) for _ in range(4)]
    assert [(response.status_code, by_flask) for response, by_flask in answers] == [
        (200, False),
        (200, False),
        (200, False),
        (429, True),
    ]
    assert answers[-1][0].headers["Retry-After"] == "60"
