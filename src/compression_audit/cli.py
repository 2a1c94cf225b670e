"""Shared behaviour of the stage scripts: clean errors, no tracebacks for user mistakes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

import typer

from compression_audit.errors import UserError

F = TypeVar("F", bound=Callable)


def user_errors_exit(func: F) -> F:
    """Turn a UserError into 'error: <message>' on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]
