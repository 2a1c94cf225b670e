"""verdict stage: params.yaml's gate criteria applied to one cell's evaluate and saliency outputs."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.cli import DatasetOption, MetricsOption, ModelOption, ParamsOption, user_errors_exit
from compression_audit.core.config import load_params
from compression_audit.report.verdict import cell_verdict

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("details", "metrics")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    reports: Annotated[Path, typer.Option(help="The pipeline's reports folder: the cell's evaluate and saliency outputs.")],
    details: Annotated[Path, typer.Option(help="JSON with every criterion's value, threshold, noise floor and status.")],
    metrics: MetricsOption,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    cell_verdict(load_params(params), dataset, model, reports, details, metrics)


if __name__ == "__main__":
    app()
