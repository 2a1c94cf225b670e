"""Saliency throughput (images/s) per method and model, fp32 and bf16, float model and fake-quant twin.

    python benchmarks/saliency_speed.py --models resnet18 --batch-size 256 --images 512

Weights do not change the cost, so models are freshly initialised; the twin is calibrated on
random images. Prints a table and writes JSON to --out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

from compression_audit.compress.quantization import QuantSpec, calibrate_twin
from compression_audit.core.device import cpu_has_bf16, resolve_runtime
from compression_audit.measure.attribution import METHODS, attribute
from compression_audit.models.networks import Classifier

app = typer.Typer(add_completion=False)


@app.command()
def main(
    models: Annotated[str, typer.Option(help="Comma-separated architectures.")] = "resnet18",
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = "saliency",
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    images: Annotated[int, typer.Option(min=1, help="Images per measurement (after one warm-up batch).")] = 512,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    out: Annotated[Path, typer.Option(help="JSON to write.")] = Path("benchmarks/saliency_speed.json"),
) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (images, 32, 32, 3), dtype=np.uint8)
    targets = rng.integers(0, 10, images)
    precisions = ["fp32"] + (["bf16"] if torch.cuda.is_available() or cpu_has_bf16() else [])
    rows = []
    for arch in models.split(","):
        float_model = Classifier(arch, 10, (0.5,) * 3, (0.25,) * 3).eval()
        twin = calibrate_twin(float_model, QuantSpec(8, 8), torch.from_numpy(x[:256]), 64)
        for kind, model in (("float", float_model), ("w8a8 twin", twin)):
            for precision in precisions:
                runtime = resolve_runtime(device, precision)
                model.to(runtime.device)
                for method in methods.split(","):
                    assert method in METHODS, f"unknown method {method}"
                    attribute(model, x[:batch_size], targets[:batch_size], method, runtime, batch_size)  # warm-up
                    _, seconds = attribute(model, x, targets, method, runtime, batch_size)
                    rows.append({"model": arch, "kind": kind, "method": method, "precision": precision,
                                 "device": str(runtime.device), "images_per_s": round(images / seconds, 1)})
                    print(f"{arch:10s} {kind:10s} {method:22s} {precision:5s} {rows[-1]['images_per_s']:8.1f} images/s", flush=True)
    out.write_text(json.dumps({"batch_size": batch_size, "images": images, "threads": torch.get_num_threads(),
                               "torch": str(torch.__version__), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    app()
