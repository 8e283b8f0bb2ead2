"""The shipped nginx configuration in front of live gunicorn, with Debian's nginx: slow clients,
spoofed X-Forwarded-For, and nginx's own errors."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from harness import free_port
from harness.gunicorn import serving
from tests.databases import unavailable
from tests.e2e.test_deploy import TEMPLATE, containers, env_of

SLOW_CLIENTS, ATTACK_SECONDS, ANSWER_WITHIN = 50, 8.0, 1.0


def rendered(port: int, upstream: str) -> str:
    """The template as envsubst '$PORT $UPSTREAM' renders it (as the nginx images do)."""
    values = {"PORT": str(port), "UPSTREAM": upstream}
    return re.sub(
        r"\$\{(PORT|UPSTREAM)\}", lambda match: values[match.group(1)], TEMPLATE.read_text()
    )


@contextmanager
def nginx_in_front_of(upstream: str, folder: Path) -> Iterator[str]:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        unavailable("Debian's nginx is not installed (.ci/run installs nginx-light)")
    port = free_port()
    config = folder / "nginx.conf"
    config.write_text(rendered(port, upstream))
    process = subprocess.Popen(
        [nginx, "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


@contextmanager
def proxied(folder: Path, env: Mapping[str, str] = {}) -> Iterator[str]:
    with serving(env) as (url, _), nginx_in_front_of(url.removeprefix("http://"), folder) as front:
        yield front


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The in-memory default: one worker with one thread, which one stalled client would hold.
    with proxied(tmp_path_factory.mktemp("nginx")) as url:
        yield url


def slow_client(address: tuple[str, int], stop: threading.Event) -> None:
    """Sends a request's headers a few bytes at a time and never finishes them; reconnects
    whenever it is cut off."""
    while not stop.is_set():
        try:
            with socket.create_connection(address, timeout=2) as connection:
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                while not stop.wait(1.0):
                    connection.sendall(b"X-Slow: a\r\n")
        except OSError:
            stop.wait(0.1)


def test_slow_clients_leave_probes_and_reads_answering(front: str) -> None:
    host, port = front.removeprefix("http://").split(":")
    stop = threading.Event()
    attackers = [
        threading.Thread(target=slow_client, args=((host, int(port)), stop), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for attacker in attackers:
        attacker.start()
    slowest = 0.0
    answered = 0
    try:
        time.sleep(1)  # every slow connection is open and stalled
        ends = time.monotonic() + ATTACK_SECONDS
        while time.monotonic() < ends:
            for path in ["/healthz", "/readyz", "/users/user123/accounts"]:
                started = time.monotonic()
                response = requests.get(front + path, timeout=ANSWER_WITHIN + 1)
                slowest = max(slowest, time.monotonic() - started)
                assert response.status_code == 200, (path, response.text)
                answered += 1
            time.sleep(0.2)
    finally:
        stop.set()
        for attacker in attackers:
            attacker.join(timeout=5)
    assert slowest < ANSWER_WITHIN, slowest
    assert answered > 3 * ATTACK_SECONDS


def test_a_spoofed_x_forwarded_for_never_escapes_the_limit(tmp_path: Path) -> None:
    # The shipped Deployment's settings for the trust in the proxy. A day's window: the sliding
    # window counter weighs in the window before, so a run that straddled the edge of a short
    # window could be let through a request or two more than the limit.
    trusted = env_of(containers()["accounts-service"])["ACCOUNTS_TRUSTED_PROXIES"]
    env = {"ACCOUNTS_TRUSTED_PROXIES": trusted, "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "100 per day"}
    with proxied(tmp_path, env) as url, requests.Session() as session:
        statuses = [
            session.get(
                f"{url}/users/user123/accounts",
                headers={"X-Forwarded-For": f"203.0.113.{n % 250}, 198.51.100.{n % 200}"},
                timeout=5,
            ).status_code
            for n in range(300)
        ]
    assert statuses.count(200) <= 100
    assert statuses.count(429) >= 200


def problem(response: requests.Response) -> dict[str, object]:
    assert response.headers["Content-Type"] == "application/problem+json"
    loaded: dict[str, object] = json.loads(response.content)
    assert loaded["status"] == response.status_code
    return loaded


def test_what_nginx_answers_itself_is_problem_json(front: str) -> None:
    assert requests.get(f"{front}/{'a' * 9000}", timeout=5).status_code == 414
    problem(requests.get(f"{front}/{'a' * 9000}", timeout=5))
    large = requests.get(f"{front}/healthz", headers={"X-Big": "b" * 9000}, timeout=5)
    assert large.status_code == 431
    problem(large)
    too_big = requests.post(
        f"{front}/users/user123/accounts",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert too_big.status_code == 413
    problem(too_big)


def raw_answer(front: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of what nginx answers to these bytes."""
    host, port = front.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405),
        (
            b"POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
            b"Connection: close\r\n\r\n",
            501,
        ),
        (b"GET /healthz HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n", 505),
        (b"POST /users HTTP/1.0\r\nHost: x\r\nContent-Length: x\r\n\r\n", 400),
    ],
    ids=["trace", "unknown-transfer-encoding", "http-2.0-request-line", "bad-length"],
)
def test_every_refusal_of_nginx_is_problem_json_without_its_version(
    front: str, request_bytes: bytes, status: int
) -> None:
    answered, headers, body = raw_answer(front, request_bytes)
    assert answered == status
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["status"] == status
    assert b"<html" not in body
    assert headers.get("Server", "") in ("", "nginx")  # its name, never its version


def test_a_gunicorn_that_is_down_is_a_502_problem(tmp_path: Path) -> None:
    with nginx_in_front_of(f"127.0.0.1:{free_port()}", tmp_path) as url:
        response = requests.get(f"{url}/healthz", timeout=5)
    assert response.status_code == 502
    problem(response)
