"""predict stage: one saved model of a cell -> per-sample test predictions (Parquet), metrics, plot data."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from compression_audit.core.cli import (DataOption, DatasetOption, MetricsOption, ModelOption, ParamsOption,
    user_errors_exit)
from compression_audit.core.config import load_params
from compression_audit.measure.predict import predict_cell

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("out", "metrics", "confusion", "reliability", "corrupted_out")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    variant: Annotated[str, typer.Option(help="The baseline (seedN) or a name in params.yaml's evaluate.variants.")],
    source: Annotated[Path, typer.Option(help="Model file: a train/prune checkpoint or a quantize output.")],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Predictions Parquet file to write.")],
    metrics: MetricsOption,
    confusion: Annotated[Path, typer.Option(help="CSV of (actual, predicted) class names per test sample to write.")],
    reliability: Annotated[Path, typer.Option(help="CSV of the reliability curve (15 confidence bins) to write.")],
    corrupted: Annotated[Optional[Path], typer.Option(
        help="The dataset's corrupted test images (corrupt stage output); omitted = clean test images only.")] = None,
    corrupted_out: Annotated[Optional[Path], typer.Option(
        help="Predicted classes on every corrupted image (.npz) to write; needs --corrupted.")] = None,
    raw_speed: Annotated[bool, typer.Option(
        help="Also time raw inference for speed.seconds, the yardstick of the evaluation throughput.")] = True,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    predict_cell(load_params(params), dataset, model, variant, source, data, out, metrics, confusion, reliability,
                 corrupted, corrupted_out, raw_speed)


if __name__ == "__main__":
    app()
