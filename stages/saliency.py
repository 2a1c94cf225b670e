"""saliency stage: one variant's saliency maps on the baseline's images and targets, compared with the baseline's."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.cli import (DataOption, DatasetOption, MetricsOption, ModelOption, ParamsOption,
    user_errors_exit)
from compression_audit.core.config import load_params
from compression_audit.measure.saliency import saliency_variant

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("out", "samples", "details", "metrics", "figure")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    variant: Annotated[str, typer.Option(help="A name in params.yaml's evaluate.variants.")],
    source: Annotated[Path, typer.Option(help="The variant's model file (quantized ones are explained via their fake-quant twin).")],
    baseline_maps: Annotated[Path, typer.Option(help="The baseline's maps (saliency_baseline output).")],
    baseline_predictions: Annotated[Path, typer.Option(help="The baseline's predictions (predict stage output).")],
    predictions: Annotated[Path, typer.Option(help="The variant's predictions (predict stage output): flip status.")],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="The variant's maps file (.npz, float16) to write.")],
    samples: Annotated[Path, typer.Option(help="Per-sample comparison (Parquet) to write.")],
    details: Annotated[Path, typer.Option(help="JSON with every aggregate (per method, per class, flipped vs stable) to write.")],
    metrics: MetricsOption,
    figure: Annotated[Path, typer.Option(help="PNG of the most changed and flipped samples to write.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    saliency_variant(load_params(params), dataset, model, variant, source, baseline_maps, baseline_predictions,
                     predictions, data, out, samples, details, metrics, figure)


if __name__ == "__main__":
    app()
