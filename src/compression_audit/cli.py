"""Shared behaviour of the stage scripts: clean errors, no tracebacks for user mistakes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

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


# Options every stage shares, declared once so their help text stays the same everywhere.
DatasetOption = Annotated[str, typer.Option("--dataset", help="Dataset name, a key of params.yaml's datasets.")]
ModelOption = Annotated[str, typer.Option("--model", help="Model name, a key of params.yaml's models.")]
DataOption = Annotated[Path, typer.Option("--data", help="Prepared dataset directory (fetch output).")]
MetricsOption = Annotated[Path, typer.Option("--metrics", help="Metrics JSON to write.")]
ParamsOption = Annotated[Path, typer.Option("--params", help="params.yaml to read.", exists=True, dir_okay=False)]
