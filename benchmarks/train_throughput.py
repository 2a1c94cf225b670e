"""Train-stage throughput vs a bare training loop, per model, in one run.

    python benchmarks/train_throughput.py --seconds 20 --out reports/bench/train_throughput.json
"""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from bench import bare_loop_images_per_s, stage_loop_images_per_s
from rich.console import Console
from rich.table import Table

from compression_audit.core.atomic import write_json
from compression_audit.core.config import load_params
from compression_audit.core.device import resolve_runtime

app = typer.Typer(add_completion=False)


@app.command()
def main(
    seconds: Annotated[float, typer.Option(help="Minimum measured time of the bare loop per model; the stage loop runs as many steps.", min=0.1)] = 20.0,
    models: Annotated[Optional[list[str]], typer.Option("--model", help="Models to measure (default: all in params).")] = None,
    dataset: Annotated[str, typer.Option(help="Whose augmentation settings the stage loop uses.")] = "cifar10",
    out: Annotated[Optional[Path], typer.Option(help="JSON file for the results.")] = None,
    params: Annotated[Path, typer.Option(exists=True, dir_okay=False)] = Path("params.yaml"),
) -> None:
    p = load_params(params)
    runtime = resolve_runtime(p.train.device, p.train.precision, p.train.threads)
    rows = []
    for arch in models or list(p.models):
        hp = p.model(arch)
        bare, steps = bare_loop_images_per_s(arch, 10, hp.batch_size, seconds, runtime, p.registry)
        stage = stage_loop_images_per_s(arch, hp, p.augment[dataset], steps, runtime, registry=p.registry)
        rows.append({"model": arch, "batch_size": hp.batch_size, "bare_images_per_s": round(bare, 1),
                     "stage_images_per_s": round(stage, 1), "ratio": round(stage / bare, 3), "steps": steps})
    table = Table(title=f"training throughput on {runtime.device} ({runtime.precision}), >= {seconds:g} s per loop")
    columns = ("model", "batch_size", "steps", "bare_images_per_s", "stage_images_per_s", "ratio")
    for col in columns:
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)
    result = {"runtime": runtime.describe(), "min_seconds": seconds, "rows": rows}
    if out:
        write_json(out, result)
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    app()
