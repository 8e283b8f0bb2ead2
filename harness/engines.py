"""Servers a test or a benchmark starts for itself from Debian's binaries, on free ports, and stops
afterwards: a Redis Cluster, a PostgreSQL primary with a streaming standby, PgBouncer. The
machine's own servers are never touched. PostgreSQL and PgBouncer refuse to run as root: they run
as the `postgres` user when started by root."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from harness import free_port

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def missing(*commands: str) -> list[str]:
    """Which of these programs this machine lacks."""
    found = {name: shutil.which(name) or (POSTGRES_BIN / name).exists() for name in commands}
    return [name for name, there in found.items() if not there]


def _as_postgres(command: Sequence[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else list(command)


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _wait_until(ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout:g} s")
        time.sleep(0.1)


def _free_port_pair() -> int:
    """A free port whose Redis Cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 < 65536 and not _listening(port + 10000):
            with socket.socket() as probe, contextlib.suppress(OSError):
                probe.bind(("127.0.0.1", port + 10000))
                return port


@contextmanager
def _workdir(owner_postgres: bool = False) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="accounts-engines-"))
    try:
        if owner_postgres and os.getuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- Redis Cluster ------------------------------------------------------------------------


@dataclass
class RedisCluster:
    ports: list[int]
    folder: Path
    processes: dict[int, subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start_node(self, port: int) -> None:
        """Starts (or starts again, with the state it had) the node on `port`."""
        node = self.folder / str(port)
        node.mkdir(exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [
                "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "1000", "--save", "", "--appendonly", "no",
            ],
            cwd=node,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_until(lambda: _redis_answers(port), f"redis node {port}")

    def master_of(self, key: str) -> int:
        """The port of the master serving `key`'s slot, as the cluster tells redis-py."""
        with redis.RedisCluster(host="127.0.0.1", port=self.ports[0]) as client:
            return int(client.get_node_from_key(key).port)

    def kill_node(self, port: int) -> None:
        self.processes[port].kill()
        self.processes[port].wait()

    def state(self) -> str:
        """`ok` when every running node says so; what the first that does not says otherwise."""
        for port, process in self.processes.items():
            if process.poll() is not None:
                continue
            info = subprocess.run(
                ["redis-cli", "-p", str(port), "cluster", "info"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
            state = next(
                (
                    line.split(":")[1].strip()
                    for line in info.splitlines()
                    if "cluster_state" in line
                ),
                "",
            )
            if state != "ok":
                return state
        return "ok"

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()


def _redis_answers(port: int) -> bool:
    answer = subprocess.run(
        ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=10
    )
    return answer.stdout.strip() == "PONG"


@contextmanager
def redis_cluster(masters: int = 3) -> Iterator[RedisCluster]:
    """A Redis Cluster of `masters` masters (no replicas), each serving its share of the slots."""
    with _workdir() as folder:
        cluster = RedisCluster([_free_port_pair() for _ in range(masters)], folder, {})
        try:
            for port in cluster.ports:
                cluster.start_node(port)
            nodes = [f"127.0.0.1:{port}" for port in cluster.ports]
            _run(["redis-cli", "--cluster", "create", *nodes, "--cluster-yes"])
            _wait_until(lambda: cluster.state() == "ok", "the cluster")
            yield cluster
        finally:
            cluster.stop()


# --- PostgreSQL primary and streaming standby ---------------------------------------------


@dataclass
class PostgresServer:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        _run(
            _as_postgres(
                [str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.folder), "-w", "-t", "60",
                 "-l", str(self.folder / "log"), "start"]
            )
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_postgres(
                [str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.folder), "-m", mode, "stop"]
            ),
            capture_output=True,
            timeout=60,
        )

    def kill(self) -> None:
        """SIGKILL to the postmaster: the server is gone at once, as a lost host is."""
        pid = int((self.folder / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: not _alive(pid), f"postgres {pid} to die")

    def configure(self, **settings: str) -> None:
        """Sets these in postgresql.auto.conf and reloads (for settings that a reload changes)."""
        conf = self.folder / "postgresql.auto.conf"
        lines = [
            line
            for line in conf.read_text().splitlines()
            if line.split("=")[0].strip() not in settings
        ]
        lines += [f"{name} = '{value}'" for name, value in settings.items()]
        conf.write_text("\n".join(lines) + "\n")
        _run(_as_postgres([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.folder), "reload"]))


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def postgres_with_standbys(
    count: int = 1,
) -> Iterator[tuple[PostgresServer, list[PostgresServer]]]:
    """A PostgreSQL primary, and `count` hot standbys streaming from it (`pg_basebackup -R`)."""
    with _workdir(owner_postgres=True) as folder, ExitStack() as running:
        primary = PostgresServer(folder / "primary", free_port())
        _run(
            _as_postgres(
                [str(POSTGRES_BIN / "initdb"), "-D", str(primary.folder), "-A", "trust",
                 "-U", "postgres"]
            )
        )  # fmt: skip
        with (primary.folder / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {primary.port}\nlisten_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\nfsync = off\nwal_level = replica\n"
                "max_wal_senders = 10\nhot_standby = on\n"
            )
        with (primary.folder / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        primary.start()
        running.callback(primary.stop, "immediate")
        standbys = []
        for n in range(count):
            standby = PostgresServer(folder / f"standby{n}", free_port())
            _run(
                _as_postgres(
                    [str(POSTGRES_BIN / "pg_basebackup"), "-h", "127.0.0.1",
                     "-p", str(primary.port), "-U", "postgres", "-D", str(standby.folder),
                     "-R", "-X", "stream"]
                )
            )  # fmt: skip
            with (standby.folder / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {standby.port}\n")
            standby.start()
            running.callback(standby.stop, "immediate")
            standbys.append(standby)
        yield primary, standbys


# --- PgBouncer ----------------------------------------------------------------------------


@contextmanager
def pgbouncer(target: str, port: int, mode: str = "transaction") -> Iterator[str]:
    """PgBouncer in `mode` in front of the database `target` on 127.0.0.1:`port`; yields its
    URL."""
    with _workdir(owner_postgres=True) as folder:
        listen = free_port()
        (folder / "users.txt").write_text('"postgres" ""\n')
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n{target} = host=127.0.0.1 port={port} dbname={target}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\n"
            f"unix_socket_dir =\nauth_type = trust\nauth_file = {folder / 'users.txt'}\n"
            f"pool_mode = {mode}\ndefault_pool_size = 10\nmax_client_conn = 500\n"
            f"logfile = {folder / 'log'}\npidfile = {folder / 'pid'}\n"
        )
        if os.getuid() == 0:
            for name in ("users.txt", "pgbouncer.ini"):
                shutil.chown(folder / name, "postgres", "postgres")
        process = subprocess.Popen(
            _as_postgres(["pgbouncer", str(folder / "pgbouncer.ini")]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until(lambda: _listening(listen) or process.poll() is not None, "pgbouncer")
            if process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {(folder / 'log').read_text()}")
            yield f"postgresql://postgres@127.0.0.1:{listen}/{target}"
        finally:
            process.terminate()
            process.wait(timeout=30)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
