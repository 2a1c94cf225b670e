"""Every speed figure the pipeline is judged by, measured in one run on whatever machine runs it.

    python benchmarks/suite.py --out reports/bench/suite.json

1. training: the train stage's loop vs a bare forward/backward/step loop, per model (target >= 0.90);
2. evaluation: the predict stage's batched pass over host images vs the bare forward pass (target >= 0.80),
   for the float path and the real int8 kernels;
3. inference: real int8 kernels (W8A8, W4A8) vs the float path the predict stage uses;
4. saliency: captum images/s of the saliency stage's function, float model and W8A8 fake-quant twin;
5. pipeline: wall time of a full `dvc repro` of a configuration in a fresh git repository and of the
   incremental `dvc exp run -S prune.amount=...` after it (`--pipeline quick`: LeNet-5 only, 5 epochs, both
   full datasets; `--pipeline default`: this repository's params.yaml, hours on a CPU; a path: that params file;
   `--pipeline none` skips it). Offline, set COMPRESSION_AUDIT_DATA_DIR as for `dvc repro`.

Prints one table with the ratios and writes everything to --out (JSON).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer
import yaml
from bench import bare_loop_images_per_s, eval_vs_raw, inference_models, saliency_images_per_s, stage_loop_images_per_s
from bench_pipeline import full_and_incremental, quick_params
from rich.console import Console
from rich.table import Table

from compression_audit.compress.quantization import QuantSpec
from compression_audit.core.atomic import write_json
from compression_audit.core.cli import user_errors_exit
from compression_audit.core.config import load_params
from compression_audit.core.device import resolve_runtime
from compression_audit.core.environment import environment
from compression_audit.core.errors import UserError
from compression_audit.core.progress import log

REPO = Path(__file__).resolve().parents[1]
app = typer.Typer(add_completion=False)


def _pipeline_params(choice: str, params_file: Path) -> dict | None:
    if choice == "none":
        return None
    raw = yaml.safe_load(params_file.read_text())
    if choice == "quick":
        return quick_params(raw)
    if choice == "default":
        return raw
    path = Path(choice)
    if not path.is_file():
        raise UserError(f"--pipeline: {choice!r} is not quick, default, none or a params file")
    load_params(path)  # a bad file stops here, before minutes of benchmarking
    return yaml.safe_load(path.read_text())


@app.command()
@user_errors_exit("out")
def main(
    out: Annotated[Path, typer.Option(help="JSON file for every measurement.")] = Path("reports/bench/suite.json"),
    seconds: Annotated[float, typer.Option(help="Minimum timed seconds per loop measurement.", min=0.1)] = 10.0,
    models: Annotated[Optional[list[str]], typer.Option("--model", help="Models to measure (default: all in params).")] = None,
    eval_images: Annotated[int, typer.Option(help="Host images per evaluation measurement.", min=1)] = 4096,
    saliency_images: Annotated[int, typer.Option(help="Images per saliency measurement.", min=1)] = 512,
    pipeline: Annotated[str, typer.Option(help="quick | default | none | path to a params.yaml")] = "quick",
    prune_amount: Annotated[float, typer.Option(help="The incremental experiment's prune.amount.", min=0.0, max=0.99)] = 0.5,
    workdir: Annotated[Optional[Path], typer.Option(help="Folder for the pipeline copy (default: a temporary one, removed).")] = None,
    params: Annotated[Path, typer.Option(exists=True, dir_okay=False)] = REPO / "params.yaml",
) -> None:
    p = load_params(params)
    pipe_params = _pipeline_params(pipeline, params)
    runtime = resolve_runtime(p.train.device, p.train.precision, p.train.threads)
    eval_runtime = resolve_runtime(p.train.device, p.evaluate.precision, p.train.threads)
    sal_runtime = resolve_runtime(p.train.device, p.saliency.precision, p.train.threads)
    archs = models or list(p.models)
    rows, result = [], {"env": environment(runtime.describe()), "min_seconds": seconds}

    def row(area: str, model: str, what: str, value: float, reference: float | None, unit: str = "images/s",
            target: str = "") -> None:
        ratio = value / reference if reference else None
        rows.append({"area": area, "model": model, "what": what, "value": round(value, 1), "unit": unit,
                     "reference": None if reference is None else round(reference, 1),
                     "ratio": None if ratio is None else round(ratio, 3), "target": target})

    for arch in archs:
        hp = p.model(arch)
        log(f"training {arch}: bare loop, then the train stage's loop for as many steps")
        bare, steps = bare_loop_images_per_s(arch, 10, hp.batch_size, seconds, runtime, p.registry)
        stage = stage_loop_images_per_s(arch, hp, p.augment["cifar10"], steps, runtime, registry=p.registry)
        row("train", arch, f"train stage vs bare loop ({runtime.precision}, batch {hp.batch_size})", stage, bare,
            target=">= 0.90")
    for arch in archs:
        log(f"inference {arch}: evaluation vs raw forward, float and int8")
        specs = {name: QuantSpec(v.weight_bits, v.activation_bits, p.quantize.backend)
                 for name, v in p.quantize.variants.items()
                 if not v.qat_epochs}  # a QAT variant runs the same int8 kernels as its post-training sibling
        paths = inference_models(arch, eval_runtime, specs, registry=p.registry)
        raw_rates = {}
        for name, loaded in paths.items():
            ev, raw = eval_vs_raw(loaded, eval_images, p.train.eval_batch_size, seconds / 2)
            raw_rates[name] = raw
            row("evaluate", arch, f"predict stage vs raw forward, {name}", ev, raw, target=">= 0.80")
        float_name = next(iter(paths))
        for name in list(paths)[1:]:
            row("int8", arch, f"{name} vs {float_name} forward", raw_rates[name], raw_rates[float_name])
    for arch in archs:
        for method in p.saliency.methods:
            log(f"saliency {arch}: {method}")
            rates = saliency_images_per_s(arch, method, sal_runtime, saliency_images, p.saliency.batch_size,
                                          p.saliency.ig_steps, p.registry)
            row("saliency", arch, f"{method} ({sal_runtime.precision}), w8a8 twin vs float model",
                rates["w8a8 twin"], rates["float"])
            result.setdefault("saliency", []).append({"model": arch, "method": method, **rates})
    if pipe_params is not None:
        with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp:
            where = workdir or Path(tmp) / "project"
            pipe = full_and_incremental(REPO, where, pipe_params, prune_amount)
        result["pipeline"] = pipe
        row("pipeline", "+".join(pipe["models"]), f"`dvc exp run -S prune.amount={prune_amount}` "
            f"({pipe['incremental_stages']} stages) vs full `dvc repro` ({pipe['full_stages']} stages)",
            pipe["incremental_s"], pipe["full_repro_s"], unit="s")
    result["rows"] = rows
    table = Table(title=f"compression-audit benchmark: torch {torch.__version__}, {torch.get_num_threads()} threads, "
                        f"{runtime.device}")
    for col in ("area", "model", "what", "value", "unit", "reference", "ratio", "target"):
        table.add_column(col, justify="left" if col in ("area", "model", "what") else "right")
    for r in rows:
        table.add_row(*("-" if r[c] is None else str(r[c]) for c in
                        ("area", "model", "what", "value", "unit", "reference", "ratio", "target")))
    Console(width=200).print(table)
    write_json(out, result)
    log(f"-> {out}")


if __name__ == "__main__":
    app()
