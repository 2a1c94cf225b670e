"""prune stage: one baseline -> pruned checkpoint, metrics, per-layer sparsity, amount-search curve."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.cli import user_errors_exit
from compression_audit.config import load_params
from compression_audit.prune import prune_cell

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit
def main(
    dataset: Annotated[str, typer.Option(help="Dataset name, a key of params.yaml's datasets.")],
    model: Annotated[str, typer.Option(help="Model name, a key of params.yaml's models.")],
    baseline: Annotated[Path, typer.Option(help="Baseline checkpoint (train output).")],
    data: Annotated[Path, typer.Option(help="Prepared dataset directory (fetch output).")],
    out: Annotated[Path, typer.Option(help="Pruned checkpoint to write.")],
    metrics: Annotated[Path, typer.Option(help="Metrics JSON to write.")],
    layers: Annotated[Path, typer.Option(help="Per-layer sparsity JSON to write.")],
    search: Annotated[Path, typer.Option(help="CSV of the amount search (empty for a fixed amount).")],
    params: Annotated[Path, typer.Option(help="params.yaml to read.", exists=True, dir_okay=False)] = Path("params.yaml"),
) -> None:
    prune_cell(load_params(params), dataset, model, baseline, data, out, metrics, layers, search)


if __name__ == "__main__":
    app()
