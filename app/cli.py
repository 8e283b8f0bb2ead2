"""The `accounts-service` command."""

from __future__ import annotations

from pathlib import Path

import click

from app.seed import SeedDataError, load_seed_file


@click.group()
def main() -> None:
    """accounts-service: every account a user holds, in one list, over HTTP."""


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
