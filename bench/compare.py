"""Our service beside the floor, its own past, and the reference peers: same data, same load.

    .venv/bin/python -m bench.compare [--users 100000] [--duration 10] [--connections 32]
                                      [--baseline REV] [--only NAME …] [--rounds R]

One seed file for everyone: user123 of the bundled seed (its credit, loan and checking accounts,
the only types both peers know) plus --users synthetic users u0…, three accounts each. Then, one
server at a time, so that none takes CPU from another's run:

- the floor: gunicorn, with the project's gunicorn.conf.py and the same worker settings as each
  of our configurations, serving a no-op WSGI app (bench/floor_app.py): what gunicorn itself
  costs, which no app under it can beat;
- ours, production: gunicorn.conf.py on PostgreSQL (the database `accounts_compare`, made
  afresh, seeded and vacuumed before any server starts), revisions on Redis, authentication and
  rate limits off as the peers have neither;
- ours, production with auth and limits: the same with a bearer token on every request and the
  default rate limits counted in Redis; each request comes as if from another client (a random
  token of 1,000, a random X-Forwarded-For through one trusted proxy: random_users.lua's
  TOKENS), so the limits' cost is paid on every request but one load generator never reaches
  them;
- ours, default: the same gunicorn.conf.py with the in-memory store, one process;
- with --baseline REV: ours, production, as of commit REV (a git worktree), for before/after, on
  a copy of the database with the migrations added since undone;
- the Express peer (one Node process) and the FastAPI peer (uvicorn, 2 workers), started by
  their own run.sh from a copy of the read-only peers folder.

Each gets the same wrk loads (wrk is installed from Debian's packages when missing): user123's
list, its ?type=credit list, random users, and, for ours only (the peers have no writes), 90%
reads and 10% PATCHes of random users. Ours is also driven at half its peak rate, for the p99
there. Peak memory (VmHWM) is read per process once the loads are done. With --rounds R, the
loads the targets name (user123, random users) are run R - 1 more times, every server in turn,
and each target's ratio is given by round and as their median. At the end, a table of
every run, then the ratios the targets are stated in (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from app.adapters.storage.engine import make_engine
from app.adapters.storage.migrate import downgrade
from app.adapters.tokens import mint_token
from app.config import DefaultConfig
from bench import wrk
from harness import free_port

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
class Load:
    name: str
    path: str
    script: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    headers: tuple[str, ...] = ()
    #: Only for servers that take writes (ours).
    writes: bool = False


@dataclass
class Server:
    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    ours: bool
    loads: list[Load]
    #: Driven at half its peak too, for the p99 there.
    paced: bool = False


def wait_until_up(name: str, url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 900  # a first start installs the peers' packages
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{name} exited ({server.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers (a peer without the route, ours with auth on)
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


def fresh_database(admin_url: str, name: str, seed_file: Path) -> str:
    """The database `name`, made afresh, seeded from `seed_file`, vacuumed and checkpointed, so
    that no server's run pays for loading it (or for the autovacuum and the writes after)."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    for command in (["db", "upgrade"], ["db", "seed", str(seed_file)]):
        subprocess.run(
            [sys.executable, "-m", "app.entrypoints.cli", *command],
            cwd=REPO,
            env={**os.environ, "ACCOUNTS_DATABASE_URL": url},
            check=True,
        )
    with psycopg.connect(url, autocommit=True) as database:
        database.execute("VACUUM ANALYZE")
        database.execute("CHECKPOINT")  # its writes now, not during the first server's run
    return url


def baseline_database(admin_url: str, source: str, tree: Path) -> str:
    """A copy of the database `source` whose schema is the one the code at `tree` expects: the
    migrations added since undone (the data is the same)."""
    name = f"{source}_baseline"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    scripts = Config()
    scripts.set_main_option("script_location", str(tree / "app" / "migrations"))
    head = ScriptDirectory.from_config(scripts).get_current_head()
    engine = make_engine(url)
    downgrade(engine, str(head))
    engine.dispose()
    with psycopg.connect(url, autocommit=True) as database:
        database.execute("VACUUM ANALYZE")
        database.execute("CHECKPOINT")
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
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--baseline", metavar="REV", help="also run ours, production, at REV")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="servers whose name has NAME")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the loads the targets name this many times"
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
    secret = secrets.token_hex(32)
    tokens_file = work / "tokens.txt"
    # A thousand tokens, each its own budget of the per-token limit; admin, for any user's list.
    tokens_file.write_text(
        "\n".join(
            mint_token(f"bench{n}", secret, admin=True, expires_in=86400) for n in range(1000)
        )
    )

    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(REPO / "gunicorn.conf.py")]
    floor = [*gunicorn, "--pythonpath", str(REPO / "bench"), "floor_app:app"]
    ours_env = {
        "ACCOUNTS_SEED_DATA": str(seed_file),
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
    }
    print("making the PostgreSQL database accounts_compare …", flush=True)
    database = fresh_database(args.admin_url, "accounts_compare", seed_file)
    production = {
        **ours_env,
        "ACCOUNTS_SEED_DATA": "",  # seeded above
        "ACCOUNTS_DATABASE_URL": database,
        "ACCOUNTS_REDIS_URL": args.redis_url,
        "ACCOUNTS_REVISIONS": "redis",
        "ACCOUNTS_REVISIONS_NAMESPACE": f"compare-{secrets.token_hex(4)}",
    }
    users = {"USERS": str(args.users)}
    reads = [
        Load("user123", "/users/user123/accounts"),
        Load("user123 ?type=credit", "/users/user123/accounts?type=credit"),
        Load(f"random of {args.users:,} users", "/", "random_users.lua", users),
    ]
    ours = [
        *reads,
        Load(
            "90% reads, 10% writes",
            "/",
            "random_users.lua",
            {**users, "WRITE_PERCENT": "10"},
            writes=True,
        ),
    ]
    spread = {"TOKENS": str(tokens_file)}
    servers = [
        Server(
            "floor, as on a database",
            floor,
            REPO,
            {"ACCOUNTS_DATABASE_URL": database},
            False,
            reads[:1],
        ),
        Server(
            "ours, production (PostgreSQL)",
            [*gunicorn, "wsgi:app"],
            REPO,
            production,
            True,
            ours,
            paced=True,
        ),
        Server(
            "ours, production with auth and limits",
            [*gunicorn, "wsgi:app"],
            REPO,
            {
                **production,
                "ACCOUNTS_AUTH": "jwt",
                "ACCOUNTS_JWT_SECRET": secret,
                "ACCOUNTS_TRUSTED_PROXIES": "1",
                "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": DefaultConfig.RATE_LIMIT_PER_ADDRESS,
                "ACCOUNTS_RATE_LIMIT_PER_TOKEN": DefaultConfig.RATE_LIMIT_PER_TOKEN,
            },
            True,
            [
                Load("user123", "/", "random_users.lua", {**spread, "USER_ID": "user123"}),
                Load(
                    f"random of {args.users:,} users",
                    "/",
                    "random_users.lua",
                    {**spread, **users},
                ),
            ],
        ),
        Server("floor, as in memory", floor, REPO, {}, False, reads[:1]),
        Server(
            "ours, default (in memory)",
            [*gunicorn, "wsgi:app"],
            REPO,
            ours_env,
            True,
            ours,
            paced=True,
        ),
        Server(
            "express",
            ["bash", str(peers / "express" / "run.sh")],
            peers,
            {"SEED_DATA": str(seed_file)},
            False,
            reads,
        ),
        Server(
            "fastapi (2 workers)",
            ["bash", str(peers / "fastapi" / "run.sh")],
            peers,
            {"SEED_DATA": str(seed_file), "WORKERS": "2"},
            False,
            reads,
        ),
    ]
    if args.baseline:
        tree = work / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.baseline],
            check=True,
        )
        old_database = baseline_database(args.admin_url, "accounts_compare", tree)
        servers.insert(
            2,
            Server(
                f"ours, production, at {args.baseline}",
                [*gunicorn, "wsgi:app"],
                tree,
                {**production, "ACCOUNTS_DATABASE_URL": old_database},
                True,
                ours,
            ),
        )
    if args.only:
        servers = [s for s in servers if any(name in s.name for name in args.only)]

    results: dict[tuple[str, str], wrk.Result] = {}
    half_peak: dict[str, wrk.Result] = {}
    memory: dict[str, str] = {}
    rounds = [results]
    targeted = {"user123", f"random of {args.users:,} users"}
    try:
        for server in servers:
            run_server(server, args, work, results, half_peak, memory)
        # This machine's speed swings between runs: the loads the targets name again, each
        # server in turn, so that each round's ratios compare servers measured side by side.
        for _ in range(1, args.rounds):
            again: dict[tuple[str, str], wrk.Result] = {}
            for server in servers:
                loads = [load for load in server.loads if load.name in targeted]
                run_server(replace(server, loads=loads, paced=False), args, work, again, {}, {})
            rounds.append(again)
    finally:
        if args.baseline:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / "baseline")],
                check=False,
            )
    report(servers, args, rounds, half_peak, memory)
    shutil.rmtree(work, ignore_errors=True)


def run_server(
    server: Server,
    args: argparse.Namespace,
    work: Path,
    results: dict[tuple[str, str], wrk.Result],
    half_peak: dict[str, wrk.Result],
    memory: dict[str, str],
) -> None:
    port = free_port()
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
        for load in server.loads:
            results[(server.name, load.name)] = wrk.run(
                base + load.path, args.connections, args.duration, load.script, load.env
            )
            print(f"  {load.name}: {results[(server.name, load.name)]}", flush=True)
        if server.paced:
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


def report(
    servers: list[Server],
    args: argparse.Namespace,
    rounds: list[dict[tuple[str, str], wrk.Result]],
    half_peak: dict[str, wrk.Result],
    memory: dict[str, str],
) -> None:
    results = rounds[0]
    print()
    print(f"wrk -t2 -c{args.connections} -d{args.duration}s, one server at a time.")
    print()
    peer_names = [s.name for s in servers if not s.ours and not s.name.startswith("floor")]
    print(
        "| load | server | req/s | p50 | p99 | errors | "
        + " | ".join(f"ours ÷ {n}" for n in peer_names)
        + " |"
    )
    print("|---|---|---|---|---|---|" + "---|" * len(peer_names))
    loads = dict.fromkeys(load.name for server in servers for load in server.loads)
    for load in loads:
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
    random_users = f"random of {args.users:,} users"
    targets = [
        ("ours, production (PostgreSQL)", "floor, as on a database", "user123", 0.5),
        ("ours, production with auth and limits", "floor, as on a database", "user123", 0.4),
        ("ours, default (in memory)", "floor, as in memory", "user123", 0.5),
    ]
    if args.baseline:
        before = f"ours, production, at {args.baseline}"
        targets.append(("ours, production (PostgreSQL)", before, random_users, 2.0))
    for ours, other, load, target in targets:
        by_round = [
            measured[(ours, load)].rps / measured[(other, load)].rps
            for measured in rounds
            if (ours, load) in measured and (other, load) in measured
        ]
        if by_round:
            median = statistics.median(by_round)
            verdict = "met" if median >= target else "missed"
            each = ", ".join(f"{ratio:.2f}x" for ratio in by_round)
            print(
                f"- {ours} ÷ {other}, {load}: {each} by round, median {median:.2f}x "
                f"(target {target}x: {verdict})"
            )
    for name, row in half_peak.items():
        print(
            f"- {name}, user123 at about half its peak: {row.rps:,.0f} req/s, "
            f"p50 {row.p50}, p99 {row.p99} (target p99 < 10 ms)"
        )
    for name, text in memory.items():
        print(f"- {name}, peak memory: {text}")


if __name__ == "__main__":
    main()
