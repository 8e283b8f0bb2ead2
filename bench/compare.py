"""Our service beside the reference peers (../shared/peers): same data, same load, ratios.

    .venv/bin/python bench/compare.py [--users 100000] [--duration 10] [--connections 32]

One seed file for everyone: user123 of the bundled seed (its credit, loan and checking accounts,
the only types both peers know) plus --users synthetic users u0…, three accounts each. Then, one
server at a time, so that none takes CPU from another's run:

- ours, production: gunicorn with the project's gunicorn.conf.py on PostgreSQL (the database
  `accounts_compare`, made afresh, which the service seeds itself), several worker processes;
- ours, default: the same gunicorn.conf.py with the in-memory store, one process;
- the Express peer (one Node process) and the FastAPI peer (uvicorn, 2 workers), started by
  their own run.sh from a copy of the read-only peers folder.

Each gets the same wrk loads (wrk is installed from Debian's packages when missing): user123's
list, its ?type=credit list, random users, and, for ours only (the peers have no writes), 90%
reads and 10% PATCHes of random users. Ours is also driven at half its peak rate, for the p99
there. Peak memory (VmHWM) is read per process once the loads are done. Authentication and rate
limits are off in ours, as the peers have neither, and one wrk client would only measure the
limiter.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import wrk
from sqlalchemy import make_url

REPO = Path(__file__).resolve().parent.parent


def synthetic_accounts(i: int) -> list[dict[str, object]]:
    """The peers' own synthetic users (SYNTH_USERS), with a routing number that passes ABA."""
    n = i % 100
    return [
        {
            "id": f"u{i}-acc1",
            "type": "credit",
            "provider": "Chase",
            "accountName": "Chase Freedom",
            "balance": round(1200.45 + n, 2),
            "currency": "USD",
            "details": {
                "creditLimit": 5000,
                "availableCredit": 3800 - n,
                "apr": 19.99,
                "dueDate": "2025-06-15",
            },
        },
        {
            "id": f"u{i}-acc2",
            "type": "loan",
            "provider": "SoFi",
            "accountName": "Student Loan",
            "balance": 8000 + n,
            "currency": "USD",
            "details": {"principal": 10000, "interestRate": 4.5, "remainingTermMonths": 12},
        },
        {
            "id": f"u{i}-acc3",
            "type": "checking",
            "provider": "Wells Fargo",
            "accountName": "Wells Fargo Checking",
            "balance": 3400 + n,
            "currency": "USD",
            "details": {"overdraftProtection": True, "routingNumber": "121000248"},
        },
    ]


@dataclass
class Server:
    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    ours: bool


def wait_until_up(name: str, url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 900  # a first start installs the peers' packages
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{name} exited ({server.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{name}: not answering {url} after 900 s:\n{log.read_text()[-2000:]}")


def peak_memory_mib(root: int) -> dict[int, float]:
    """VmHWM (peak resident memory) of every process in `root`'s process group, in MiB."""
    peaks = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            if os.getpgid(int(status.parent.name)) != root:
                continue
        except (OSError, ProcessLookupError):
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", text)
        if match:
            peaks[int(status.parent.name)] = int(match.group(1)) / 1024
    return peaks


def fresh_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        cwd=REPO,
        env={**os.environ, "ACCOUNTS_DATABASE_URL": url},
        check=True,
    )
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--peers", type=Path, default=REPO.parent / "shared" / "peers")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--admin-url", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="accounts-compare-"))
    bundled = json.loads((REPO / "seed_data.json").read_text())
    seed = {"user123": bundled["user123"]}
    seed.update({f"u{i}": synthetic_accounts(i) for i in range(args.users)})
    seed_file = work / "seed.json"
    seed_file.write_text(json.dumps(seed))
    peers = work / "peers"
    shutil.copytree(args.peers, peers, ignore=shutil.ignore_patterns("node_modules"))

    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    ours_env = {
        "ACCOUNTS_SEED_DATA": str(seed_file),
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
    }
    print("making the PostgreSQL database accounts_compare …", flush=True)
    database = fresh_database(args.admin_url, "accounts_compare")
    servers = [
        Server(
            "ours, production (PostgreSQL)",
            gunicorn,
            REPO,
            {**ours_env, "ACCOUNTS_DATABASE_URL": database},
            ours=True,
        ),
        Server("ours, default (in memory)", gunicorn, REPO, ours_env, ours=True),
        Server(
            "express",
            ["bash", str(peers / "express" / "run.sh")],
            peers,
            {"SEED_DATA": str(seed_file)},
            ours=False,
        ),
        Server(
            "fastapi (2 workers)",
            ["bash", str(peers / "fastapi" / "run.sh")],
            peers,
            {"SEED_DATA": str(seed_file), "WORKERS": "2"},
            ours=False,
        ),
    ]
    users = {"USERS": str(args.users)}
    # (name, path, wrk script, its environment); the writes are for ours only (the peers have none).
    loads: list[tuple[str, str, str | None, dict[str, str]]] = [
        ("user123", "/users/user123/accounts", None, {}),
        ("user123 ?type=credit", "/users/user123/accounts?type=credit", None, {}),
        (f"random of {args.users:,} users", "/", "random_users.lua", users),
        ("90% reads, 10% writes", "/", "random_users.lua", {**users, "WRITE_PERCENT": "10"}),
    ]
    results: dict[tuple[str, str], wrk.Result] = {}
    half_peak: dict[str, wrk.Result] = {}
    memory: dict[str, str] = {}
    for server in servers:
        port = wrk.free_port()
        log = work / f"{port}.log"
        print(f"starting {server.name} …", flush=True)
        with log.open("wb") as output:
            process = subprocess.Popen(
                server.command,
                cwd=server.cwd,
                env={**os.environ, **server.env, "PORT": str(port)},
                stdout=output if not server.ours else subprocess.DEVNULL,
                stderr=output,
                start_new_session=True,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(server.name, f"{base}/users/user123/accounts", process, log)
            for load, path, script, load_env in loads:
                if "WRITE_PERCENT" in load_env and not server.ours:
                    continue
                results[(server.name, load)] = wrk.run(
                    base + path, args.connections, args.duration, script, load_env
                )
                print(f"  {load}: {results[(server.name, load)]}", flush=True)
            if server.ours:
                peak = results[(server.name, "user123")].rps
                # Each connection waits this long between requests: about half the peak rate.
                delay_ms = args.connections / (peak / 2) * 1000
                half_peak[server.name] = wrk.run(
                    base + "/users/user123/accounts",
                    args.connections,
                    args.duration,
                    "paced.lua",
                    {"DELAY_MS": f"{delay_ms:.2f}"},
                )
                print(f"  half peak: {half_peak[server.name]}", flush=True)
            peaks = peak_memory_mib(process.pid)
            workers = {pid: mib for pid, mib in peaks.items() if pid != process.pid}
            memory[server.name] = (
                f"{max(workers.values()):.0f} MiB per worker ({len(workers)}), "
                f"{peaks.get(process.pid, 0):.0f} MiB the first process"
                if workers
                else f"{peaks.get(process.pid, 0):.0f} MiB (one process)"
            )
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)

    print()
    print(f"wrk -t2 -c{args.connections} -d{args.duration}s, one server at a time.")
    print()
    peer_names = [server.name for server in servers if not server.ours]
    print(
        "| load | server | req/s | p50 | p99 | errors | "
        + " | ".join(f"ours ÷ {n}" for n in peer_names)
        + " |"
    )
    print("|---|---|---|---|---|---|" + "---|" * len(peer_names))
    for load, *_ in loads:
        for server in servers:
            row = results.get((server.name, load))
            if row is None:
                continue
            ratios = [
                f"{row.rps / results[(peer, load)].rps:.2f}x"
                if server.ours and (peer, load) in results
                else ""
                for peer in peer_names
            ]
            print(
                f"| {load} | {server.name} | {row.rps:,.0f} | {row.p50} | {row.p99} | "
                f"{row.errors} | " + " | ".join(ratios) + " |"
            )
    print()
    for name, row in half_peak.items():
        print(
            f"- {name}, user123 at about half its peak: {row.rps:,.0f} req/s, "
            f"p50 {row.p50}, p99 {row.p99}"
        )
    for name, text in memory.items():
        print(f"- {name}, peak memory: {text}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
