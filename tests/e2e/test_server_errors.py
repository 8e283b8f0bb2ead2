"""What gunicorn answers by itself, before the app sees a request, is problem+json too."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from harness.gunicorn import serving

CHUNK = 8192


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    with serving() as (url, _):
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def exchange(address: tuple[str, int], *parts: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(address, timeout=10) as connection:
        for part in parts:
            connection.sendall(part)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = [
                line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            ]
            if length and len(body) >= int(length[0].split(b":")[1]):
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines)
    }
    return int(status_line.split()[1]), headers, body


MALFORMED = {
    "bad request line": (b"NONSENSE\r\n\r\n", 400),
    "bare LF in a header": (b"GET /healthz HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400),
    "more than 100 headers": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % n for n in range(101))
        + b"\r\n",
        431,
    ),
    "request line too long": (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "header too long": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 9000 + b"\r\n\r\n",
        431,
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_gunicorns_own_refusals_are_problems(address: tuple[str, int], case: str) -> None:
    request, expected = MALFORMED[case]
    status, headers, body = exchange(address, request)
    assert status == expected
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == expected
    assert {"type", "title", "detail"} <= set(problem)


def test_a_chunked_body_over_the_limit_is_a_413(address: tuple[str, int]) -> None:
    body = b'{"id": "' + b"x" * 100_000 + b'"}'
    chunks = [body[n : n + CHUNK] for n in range(0, len(body), CHUNK)]
    status, headers, answer = exchange(
        address,
        b"POST /users/user123/accounts HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        *[b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks],
        b"0\r\n\r\n",
    )
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(answer)["status"] == 413


def test_a_chunked_body_within_the_limit_is_read_whole(address: tuple[str, int]) -> None:
    body = json.dumps({"id": "chunked-user"}).encode()
    status, _, answer = exchange(
        address,
        b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body),
    )
    assert status == 201, answer
