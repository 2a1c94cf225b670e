"""The prune stage's work: prune one baseline (fixed amount or validation-driven search), measure it, save it."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import torch
from torch.nn.utils import prune as torch_prune

from compression_audit.compress.pruning import amount_grid, make_permanent, prunable_layers, prune_model, sparsity
from compression_audit.core.atomic import write_csv, write_json
from compression_audit.core.config import Params, PruneConfig
from compression_audit.core.device import Runtime, resolve_runtime
from compression_audit.core.environment import environment, results_only
from compression_audit.core.progress import log
from compression_audit.data.prepared import PreparedData, load_prepared
from compression_audit.models.checkpoint import load_classifier, save_checkpoint
from compression_audit.models.networks import Classifier
from compression_audit.models.perf import cpu_speed, serialized_bytes
from compression_audit.models.training import evaluate, fit


def _split(data: PreparedData, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(data.images[split]), torch.from_numpy(data.labels[split])


def pruned_copy(model: Classifier, amount: float, cfg: PruneConfig) -> Classifier:
    return prune_model(copy.deepcopy(model), amount, cfg.scope, cfg.structure, cfg.score, cfg.seed)


def search_amount(model: Classifier, cfg: PruneConfig, val, runtime: Runtime, batch_size: int,
                  base_val_acc: float) -> tuple[float, list[dict]]:
    """The largest grid amount whose validation accuracy drop is within ``cfg.tolerance_pp``.

    Scans from the largest amount down and stops at the first that qualifies, so the
    answer is the largest qualifying point even where accuracy is not monotonic in the amount.
    """
    rows = []
    for amount in reversed(amount_grid(cfg.grid_step)):
        _, acc = evaluate(pruned_copy(model, amount, cfg), *val, runtime, batch_size)
        drop_pp = round(100 * (base_val_acc - acc), 4)
        rows.append({"amount": amount, "val_acc": round(acc, 6), "drop_pp": drop_pp})
        log(f"prune search: amount {amount:.3f} -> val acc {acc:.4f} (drop {drop_pp:+.2f} pp)")
        if drop_pp <= cfg.tolerance_pp:
            return amount, sorted(rows, key=lambda r: r["amount"])
    return 0.0, sorted(rows, key=lambda r: r["amount"])  # unreachable: amount 0 drops nothing


def finetune(model: Classifier, params: Params, dataset: str, data: PreparedData, runtime: Runtime) -> None:
    """Retrain with the pruning mask fixed (zeros stay zeros), then make the pruning permanent again."""
    cfg = params.prune
    for _, m in prunable_layers(model):
        torch_prune.custom_from_mask(m, "weight", m.weight != 0)
    hp = dataclasses.replace(params.model(model.arch), epochs=cfg.finetune_epochs, lr=cfg.finetune_lr, ema_decay=0.0)
    fit(model, data, hp, params.augment[dataset], runtime, cfg.seed, params.train.eval_batch_size)
    make_permanent(model)
    model.cpu()


def sparse_bytes(dense_bytes: int, zeros: int, weights: int, value_bytes: int = 4) -> int:
    """Size with the prunable weights stored as a bitmap plus their non-zero values."""
    return dense_bytes - zeros * value_bytes + (weights + 7) // 8


def prune_cell(params: Params, dataset: str, arch: str, baseline: Path, data_dir: Path,
               out: Path, metrics: Path, layers: Path, search: Path) -> dict:
    cfg = params.prune
    params.dataset(dataset)
    params.model(arch)
    # fp32 like the quantize stage: the tolerance is judged in the numerics a deployed float model uses
    runtime = resolve_runtime(params.train.device, "fp32", params.train.threads)
    data = load_prepared(data_dir)
    model, payload = load_classifier(baseline, expect_arch=arch, expect_classes=data.num_classes,
                                     registry=params.registry)
    model.to(runtime.device)
    bs = params.train.eval_batch_size
    val, test = _split(data, "val"), _split(data, "test")
    _, base_val = evaluate(model, *val, runtime, bs)
    _, base_test = evaluate(model, *test, runtime, bs)
    if cfg.amount == "auto":
        amount, rows = search_amount(model, cfg, val, runtime, bs, base_val)
        log(f"prune: chose amount {amount:.3f} (tolerance {cfg.tolerance_pp} pp on validation)")
    else:
        amount, rows = cfg.amount, []
    pruned = pruned_copy(model, amount, cfg)
    if cfg.finetune_epochs:
        finetune(pruned, params, dataset, data, runtime)
        pruned.to(runtime.device)
    searched = {r["amount"]: r["val_acc"] for r in rows}
    if cfg.finetune_epochs or amount not in searched:
        _, val_acc = evaluate(pruned, *val, runtime, bs)
    else:
        val_acc = searched[amount]  # the search already measured this model
    _, test_acc = evaluate(pruned, *test, runtime, bs)
    pruned.cpu()
    model.cpu()
    measured = sparsity(pruned)
    dense = serialized_bytes(pruned.state_dict())
    speed = cpu_speed(pruned, params.speed.batch_size, params.speed.seconds)
    base_speed = cpu_speed(model, params.speed.batch_size, params.speed.seconds)
    summary = {
        "amount": amount,
        "sparsity": measured["sparsity"],
        "val_acc": round(val_acc, 6),
        "test_acc": round(test_acc, 6),
        "baseline_val_acc": round(base_val, 6),
        "baseline_test_acc": round(base_test, 6),
        "delta_test_pp": round(100 * (test_acc - base_test), 4),
        "size_bytes": dense,
        "sparse_size_bytes": sparse_bytes(dense, measured["zeros"], measured["weights"]),
        "env": environment(runtime.describe()),
        "timing": {**speed, "speedup_vs_fp32": round(speed["images_per_s_large_batch"] / base_speed["images_per_s_large_batch"], 3)},
    }
    info = {
        "dataset": dataset, "variant": "pruned", "source": str(baseline), "prune": dataclasses.asdict(cfg),
        "metrics": results_only(summary), "env": summary["env"],
        "baseline_info": payload["info"],
    }
    save_checkpoint(out, pruned, data.class_names, info)
    write_json(layers, measured)
    write_csv(search, rows, ["amount", "val_acc", "drop_pp"])
    write_json(metrics, summary)
    log(f"{dataset}/{arch} pruned {measured['sparsity']:.1%}: test {test_acc:.4f} (baseline {base_test:.4f}) -> {out}")
    return summary

