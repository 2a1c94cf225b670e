"""The train stage's work: one (dataset, model, seed) cell from prepared data to checkpoint, metrics and curve."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from compression_audit.core.atomic import write_csv, write_json
from compression_audit.core.config import Params
from compression_audit.core.device import resolve_runtime
from compression_audit.core.environment import environment, results_only
from compression_audit.core.progress import log
from compression_audit.data.prepared import load_prepared
from compression_audit.models.checkpoint import save_checkpoint
from compression_audit.models.networks import Classifier, count_parameters
from compression_audit.models.training import EpochRecord, evaluate, fit


def train_cell(
    params: Params, dataset: str, arch: str, seed: int, data_dir: Path,
    out: Path, metrics: Path, curve: Path, resume: Path | None,
) -> dict:
    hp = params.model(arch)
    params.dataset(dataset)  # fails early, naming the valid datasets
    aug = params.augment[dataset]
    runtime = resolve_runtime(params.train.device, params.train.precision, params.train.threads)
    data = load_prepared(data_dir)
    torch.manual_seed(seed)
    model = Classifier(arch, data.num_classes, data.mean, data.std, params.registry)
    log(
        f"train {dataset}/{arch} seed {seed}: {count_parameters(model):,} params, {hp.epochs} epochs, "
        f"batch {hp.batch_size}, on {runtime.device} ({runtime.precision})"
    )
    result = fit(
        model, data, hp, aug, runtime, seed, params.train.eval_batch_size,
        params.train.max_train_images, resume,
    )
    test_x = torch.from_numpy(data.images["test"])
    test_y = torch.from_numpy(data.labels["test"])
    test_loss, test_acc = evaluate(model, test_x, test_y, runtime, params.train.eval_batch_size)
    rates = sorted(r.train_images_per_s for r in result.history)
    summary = {
        "val_acc": round(result.best_val_acc, 6),
        "test_acc": round(test_acc, 6),
        "test_loss": round(test_loss, 6),
        "best_epoch": result.best_epoch,
        "epochs": hp.epochs,
        "n_train": int(min(len(data.labels["train"]), params.train.max_train_images or len(data.labels["train"]))),
        "n_val": int(len(data.labels["val"])),
        "n_test": int(len(data.labels["test"])),
        "seed": seed,
        "env": environment(runtime.describe()),
        # wall-clock figures: everything outside "timing" is a deterministic function of data, params and seed
        "timing": {"train_images_per_s": rates[len(rates) // 2]},
    }
    info = {
        "dataset": dataset, "seed": seed, "hparams": dataclasses.asdict(hp),
        "augment": dataclasses.asdict(aug), "train": dataclasses.asdict(params.train),
        "data": dataclasses.asdict(params.data), "metrics": results_only(summary),
        "env": summary["env"],
    }
    model.to("cpu", memory_format=torch.contiguous_format)
    save_checkpoint(out, model, data.class_names, info)
    write_json(metrics, summary)
    write_csv(curve, [dataclasses.asdict(r) for r in result.history], [f.name for f in dataclasses.fields(EpochRecord)])
    if resume is not None:
        resume.unlink(missing_ok=True)
    log(f"{dataset}/{arch} seed {seed}: val {result.best_val_acc:.4f} (epoch {result.best_epoch}), test {test_acc:.4f} -> {out}")
    return summary
