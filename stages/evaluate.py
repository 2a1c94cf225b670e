"""evaluate stage: a variant's predictions vs the baseline's -> every pairwise metric of DESIGN.md §6."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.cli import DatasetOption, MetricsOption, ModelOption, ParamsOption, user_errors_exit
from compression_audit.core.config import load_params
from compression_audit.measure.evaluate import evaluate_pair

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("details", "metrics", "per_class")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    variant: Annotated[str, typer.Option(help="A name in params.yaml's evaluate.variants.")],
    baseline: Annotated[Path, typer.Option(help="The baseline's predictions (predict stage output).")],
    compared: Annotated[Path, typer.Option(help="The variant's predictions (predict stage output).")],
    details: Annotated[Path, typer.Option(help="JSON with every pairwise metric to write.")],
    metrics: MetricsOption,
    per_class: Annotated[Path, typer.Option(help="CSV of per-class accuracy changes with intervals to write.")],
    baseline_corrupted: Annotated[Path, typer.Option(help="The baseline's predictions on the corrupted images.")],
    compared_corrupted: Annotated[Path, typer.Option(help="The variant's predictions on the corrupted images.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    evaluate_pair(load_params(params), dataset, model, variant, baseline, compared, details, metrics, per_class,
                  baseline_corrupted, compared_corrupted)


if __name__ == "__main__":
    app()
