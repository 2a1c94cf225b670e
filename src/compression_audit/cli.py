"""Shared behaviour of the stage scripts: clean errors, no tracebacks for user mistakes."""

from __future__ import annotations

import functools
import inspect
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from compression_audit.errors import UserError

F = TypeVar("F", bound=Callable)


def user_errors_exit(*outputs: str) -> Callable[[F], F]:
    """Decorate a stage's command: a UserError becomes 'error: <message>' on stderr and exit status 2, and
    on any failure the outputs named by these parameters are removed.

    Removing them matters when a stage is run by hand or after a failed `dvc repro`: a checkpoint or metrics
    file from an earlier, successful run must not be taken for the result of the run that just failed.
    (`dvc repro` itself deletes a stage's outputs before running it; this gives direct runs the same rule.)
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        unknown = set(outputs) - set(signature.parameters)
        if unknown:  # a programming error, caught the first time the stage module is imported
            raise TypeError(f"{func.__name__} has no parameter(s) {sorted(unknown)}")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except BaseException as exc:
                if not isinstance(exc, SystemExit) or exc.code not in (0, None):
                    bound = signature.bind_partial(*args, **kwargs)
                    _remove_outputs(bound.arguments.get(name) for name in outputs)
                if isinstance(exc, UserError):
                    print(f"error: {exc}", file=sys.stderr)
                    raise typer.Exit(code=2) from None
                raise

        return wrapper  # type: ignore[return-value]

    return decorate


def _remove_outputs(paths) -> None:
    for path in paths:
        if path is None:
            continue
        path = Path(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# Options every stage shares, declared once so their help text stays the same everywhere.
DatasetOption = Annotated[str, typer.Option("--dataset", help="Dataset name, a key of params.yaml's datasets.")]
ModelOption = Annotated[str, typer.Option("--model", help="Model name, a key of params.yaml's models.")]
DataOption = Annotated[Path, typer.Option("--data", help="Prepared dataset directory (fetch output).")]
MetricsOption = Annotated[Path, typer.Option("--metrics", help="Metrics JSON to write.")]
ParamsOption = Annotated[Path, typer.Option("--params", help="params.yaml to read.", exists=True, dir_okay=False)]
