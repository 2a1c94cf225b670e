"""saliency_baseline stage: the baseline's saliency maps on a fixed, seeded, class-stratified test subset."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.cli import (DataOption, DatasetOption, MetricsOption, ModelOption, ParamsOption,
    user_errors_exit)
from compression_audit.core.config import load_params
from compression_audit.measure.saliency import saliency_baseline

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("out", "metrics")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    source: Annotated[Path, typer.Option(help="The baseline checkpoint.")],
    predictions: Annotated[Path, typer.Option(help="The baseline's predictions (predict stage output): targets and subset.")],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Maps file (.npz, float16) to write.")],
    metrics: MetricsOption,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    saliency_baseline(load_params(params), dataset, model, source, predictions, data, out, metrics)


if __name__ == "__main__":
    app()
