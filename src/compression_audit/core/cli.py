"""Shared behaviour of the stage scripts: clean errors, no tracebacks for user mistakes."""

from __future__ import annotations

import functools
import inspect
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import click
import typer

from compression_audit.core.errors import UserError

F = TypeVar("F", bound=Callable)


def user_errors_exit(*files: str, dirs: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorate a stage's command: a UserError becomes 'error: <message>' on stderr and exit status 2, and
    on any failure the outputs named by these parameters (``files``: output files; ``dirs``: output
    directories) are removed.

    Removing them matters when a stage is run by hand or after a failed `dvc repro`: a checkpoint or metrics
    file from an earlier, successful run must not be taken for the result of the run that just failed.
    (`dvc repro` itself deletes a stage's outputs before running it; this gives direct runs the same rule.)
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        unknown = (set(files) | set(dirs)) - set(signature.parameters)
        if unknown:  # a programming error, caught the first time the stage module is imported
            raise TypeError(f"{func.__name__} has no parameter(s) {sorted(unknown)}")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            arguments = signature.bind_partial(*args, **kwargs).arguments
            try:
                _check_output_files(arguments, files)
                return func(*args, **kwargs)
            except BaseException as exc:
                if not _is_success(exc):
                    _remove_outputs(arguments, files, dirs)
                if isinstance(exc, UserError):
                    print(f"error: {exc}", file=sys.stderr)
                    raise typer.Exit(code=2) from None
                raise

        return wrapper  # type: ignore[return-value]

    return decorate


def _check_output_files(arguments: dict, files: tuple[str, ...]) -> None:
    """Before any work: an output file that would land on an existing directory fails at the very end."""
    for name in files:
        path = arguments.get(name)
        if path is not None and Path(path).is_dir():
            raise UserError(f"--{name.replace('_', '-')} {path} is an existing directory, not a file; "
                            "give the path of the file to write (dvc.yaml names every output)")


def _is_success(exc: BaseException) -> bool:
    if isinstance(exc, SystemExit):
        return exc.code in (0, None)
    return isinstance(exc, click.exceptions.Exit) and exc.exit_code == 0


def _remove_outputs(arguments: dict, files: tuple[str, ...], dirs: tuple[str, ...]) -> None:
    """Delete this run's stale outputs, and nothing that could be anything else: a file output is removed only
    if it is a file, a directory output only if it holds a prepared dataset (meta.json) and contains neither
    the working directory nor any other path this stage was given."""
    others = [Path(v).resolve() for k, v in arguments.items() if isinstance(v, Path) and k not in dirs]
    for name in files:
        path = arguments.get(name)
        if path is not None and (Path(path).is_file() or Path(path).is_symlink()):
            _quietly(Path(path).unlink)
    for name in dirs:
        path = arguments.get(name)
        if path is None or not Path(path).is_dir() or Path(path).is_symlink():
            continue
        root = Path(path).resolve()
        protected = [Path.cwd().resolve(), *(p for p in others if p not in (root,))]
        if (root / "meta.json").is_file() and not any(p == root or root in p.parents for p in protected):
            _quietly(lambda: shutil.rmtree(root))


def _quietly(action: Callable[[], object]) -> None:
    try:  # the error that made the stage fail is the one to report, not a failed clean-up
        action()
    except OSError:
        pass


# Options every stage shares, declared once so their help text stays the same everywhere.
DatasetOption = Annotated[str, typer.Option("--dataset", help="Dataset name, a key of params.yaml's datasets.")]
ModelOption = Annotated[str, typer.Option("--model", help="Model name, a key of params.yaml's models.")]
DataOption = Annotated[Path, typer.Option("--data", help="Prepared dataset directory (fetch output).")]
MetricsOption = Annotated[Path, typer.Option("--metrics", help="Metrics JSON to write.")]
ParamsOption = Annotated[Path, typer.Option("--params", help="params.yaml to read.", exists=True, dir_okay=False)]
