"""CPU inference speed of every model as fp32 eager, bf16 channels_last and real int8 (W8A8, W4A8).

    python benchmarks/inference_speed.py --seconds 5 --out reports/bench/inference_speed.json

Weights are randomly initialised and calibrated on random images: kernel speed does not
depend on the values, so this runs anywhere without trained models. The int8 models are the
benchmark suite's (bench.inference_models), built as the predict stage builds them.
"""

from pathlib import Path
from typing import Annotated, Optional

import torch
import typer
from bench import inference_models
from rich.console import Console
from rich.table import Table

from compression_audit.compress.quantization import QuantSpec
from compression_audit.core.atomic import write_json
from compression_audit.core.device import cpu_has_bf16, resolve_runtime
from compression_audit.models.networks import MODELS, Classifier
from compression_audit.models.perf import images_per_second

app = typer.Typer(add_completion=False)


class _Bf16(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(x)


@app.command()
def main(
    seconds: Annotated[float, typer.Option(help="Timed seconds per measurement.", min=0.1)] = 5.0,
    batch_size: Annotated[int, typer.Option(help="Large batch size.", min=1)] = 256,
    models: Annotated[Optional[list[str]], typer.Option("--model", help="Models to measure (default: all).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="JSON file for the results.")] = None,
) -> None:
    rows = []
    for arch in models or list(MODELS):
        torch.manual_seed(0)
        model = Classifier(arch, 10, (0.5,) * 3, (0.25,) * 3).eval()
        row = {"model": arch, "batch_size": batch_size}
        row["fp32_eager"] = images_per_second(model, batch_size, seconds)
        cl = Classifier(arch, 10, (0.5,) * 3, (0.25,) * 3).eval().to(memory_format=torch.channels_last)
        cl.load_state_dict(model.state_dict())
        row["fp32_channels_last"] = images_per_second(cl, batch_size, seconds, channels_last=True)
        if cpu_has_bf16():
            row["bf16_channels_last"] = images_per_second(_Bf16(cl), batch_size, seconds, channels_last=True)
        specs = {f"w{bits}a8": QuantSpec(bits, 8) for bits in (8, 4)}
        for name, loaded in inference_models(arch, resolve_runtime("cpu", "fp32"), specs).items():
            if loaded.kind == "int8":
                row[f"int8_{name.split()[1]}"] = images_per_second(loaded.model, batch_size, seconds)
        row = {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}
        row["w8a8_vs_fp32_eager"] = round(row["int8_w8a8"] / row["fp32_eager"], 2)
        rows.append(row)
    columns = [c for c in rows[0] if c != "batch_size"]
    table = Table(title=f"CPU inference, images/s at batch {batch_size}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for c in columns:
        table.add_column(c, justify="right")
    for row in rows:
        table.add_row(*(str(row.get(c, "-")) for c in columns))
    Console().print(table)
    if out:
        write_json(out, {"threads": torch.get_num_threads(), "rows": rows})


if __name__ == "__main__":
    app()
