"""train stage: one dataset x model x seed cell -> checkpoint, metrics JSON, per-epoch curve CSV."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from compression_audit.core.cli import (DataOption, DatasetOption, MetricsOption, ModelOption, ParamsOption,
    user_errors_exit)
from compression_audit.core.config import load_params
from compression_audit.models.train import train_cell

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("out", "metrics", "curve")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    seed: Annotated[int, typer.Option(help="Training seed (the first of params.yaml's seeds is the baseline).", min=0)],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Checkpoint to write.")],
    metrics: MetricsOption,
    curve: Annotated[Path, typer.Option(help="Per-epoch CSV to write.")],
    resume: Annotated[Optional[Path], typer.Option(help="Per-epoch resume file; kept only while training is unfinished.")] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    train_cell(load_params(params), dataset, model, seed, data, out, metrics, curve, resume)


if __name__ == "__main__":
    app()
