"""quantize stage: one float checkpoint -> int8 model + fake-quant twin, metrics JSON."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.compress.quantize import quantize_cell
from compression_audit.core.cli import (DataOption, DatasetOption, MetricsOption, ModelOption, ParamsOption,
    user_errors_exit)
from compression_audit.core.config import load_params

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("out", "metrics")
def main(
    dataset: DatasetOption,
    model: ModelOption,
    variant: Annotated[str, typer.Option(help="Quantization variant, a key of params.yaml's quantize.variants.")],
    source: Annotated[Path, typer.Option(help="Float checkpoint to quantize (baseline or pruned).")],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Quantized checkpoint to write.")],
    metrics: MetricsOption,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    quantize_cell(load_params(params), dataset, model, variant, source, data, out, metrics)


if __name__ == "__main__":
    app()
