"""population stage: every seed's baseline and compressed variants of one cell -> spread over seeds, per-class
Welch tests and compression-identified exemplars (with a gallery)."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.cli import (DataOption, DatasetOption, MetricsOption, ModelOption, ParamsOption,
    user_errors_exit)
from compression_audit.core.config import load_params
from compression_audit.measure.population import population

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("details", "metrics", "gallery")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    reports: Annotated[Path, typer.Option(
        help="The pipeline's reports folder: every seed's predictions, corrupted-set predictions and saliency records.")],
    data: DataOption,
    details: Annotated[Path, typer.Option(help="JSON with every seed's numbers, Welch tests and CIEs to write.")],
    metrics: MetricsOption,
    gallery: Annotated[Path, typer.Option(help="PNG of compression-identified exemplars to write.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    population(load_params(params), dataset, model, reports, data, details, metrics, gallery)


if __name__ == "__main__":
    app()
