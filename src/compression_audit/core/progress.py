"""Progress output for long work: a live bar on a terminal, plain lines in logs.

Under `dvc repro` in a terminal the bar renders live; in CI or a redirected log a
bar would be invisible or a wall of control codes, so a line is printed every
10 % instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

T = TypeVar("T")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def track(items: Iterable[T], total: int, description: str) -> Iterator[T]:
    if total <= 0:
        yield from items
        return
    if sys.stderr.isatty():
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            transient=False,
        ) as progress:
            task = progress.add_task(description, total=total, status="")
            for item in items:
                yield item
                progress.advance(task)
        return
    start = time.perf_counter()
    next_mark = 0.1
    for done, item in enumerate(items, start=1):
        yield item
        if done / total >= next_mark or done == total:
            elapsed = time.perf_counter() - start
            log(f"{description}: {done}/{total} ({100 * done / total:.0f} %, {elapsed:.1f} s)")
            while next_mark <= done / total:
                next_mark += 0.1
