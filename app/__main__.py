"""`python -m app`: the `accounts-service` command, for an environment whose scripts are not on
PATH."""

from app.entrypoints.cli import main

main(prog_name="accounts-service")
