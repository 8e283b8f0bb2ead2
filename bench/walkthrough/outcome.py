"""How a chapter tells the reader what it saw, and how it ends when that is not what the page
says or when it cannot run at all."""

from __future__ import annotations


class NotAsDocumented(Exception):
    pass


class CannotRun(Exception):
    """What the chapter needs is not there (a server that does not answer, a program that is
    not installed): nothing was measured."""


def say(text: str = "") -> None:
    print(text, flush=True)


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise NotAsDocumented(what)
