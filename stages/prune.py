"""prune stage: one baseline -> pruned checkpoint, metrics, per-layer sparsity, amount-search curve."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.compress.prune import prune_cell
from compression_audit.core.cli import (DataOption, DatasetOption, MetricsOption, ModelOption, ParamsOption,
    user_errors_exit)
from compression_audit.core.config import load_params

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("out", "metrics", "layers", "search")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    baseline: Annotated[Path, typer.Option(help="Baseline checkpoint (train output).")],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Pruned checkpoint to write.")],
    metrics: MetricsOption,
    layers: Annotated[Path, typer.Option(help="Per-layer sparsity JSON to write.")],
    search: Annotated[Path, typer.Option(help="CSV of the amount search (empty for a fixed amount).")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    prune_cell(load_params(params), dataset, model, baseline, data, out, metrics, layers, search)


if __name__ == "__main__":
    app()
