"""quantize stage: one float checkpoint -> int8 model + fake-quant twin, metrics JSON."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.cli import user_errors_exit
from compression_audit.config import load_params
from compression_audit.quantize import quantize_cell

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit
def main(
    dataset: Annotated[str, typer.Option(help="Dataset name, a key of params.yaml's datasets.")],
    model: Annotated[str, typer.Option(help="Model name, a key of params.yaml's models.")],
    variant: Annotated[str, typer.Option(help="Quantization variant, a key of params.yaml's quantize.variants.")],
    source: Annotated[Path, typer.Option(help="Float checkpoint to quantize (baseline or pruned).")],
    data: Annotated[Path, typer.Option(help="Prepared dataset directory (fetch output).")],
    out: Annotated[Path, typer.Option(help="Quantized checkpoint to write.")],
    metrics: Annotated[Path, typer.Option(help="Metrics JSON to write.")],
    params: Annotated[Path, typer.Option(help="params.yaml to read.", exists=True, dir_okay=False)] = Path("params.yaml"),
) -> None:
    quantize_cell(load_params(params), dataset, model, variant, source, data, out, metrics)


if __name__ == "__main__":
    app()
