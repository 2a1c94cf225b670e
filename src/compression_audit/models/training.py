"""Training and batched inference on in-memory tensors.

The whole dataset sits on the training device as one uint8 tensor; each step
gathers, crops and flips its batch in one indexing operation (augment.py), so
throughput stays close to a bare loop on random tensors. Every epoch's shuffle,
augmentation and dropout draw from generators seeded by (seed, epoch), which makes
a run resumed from its last epoch identical to one that never stopped.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from compression_audit.core.atomic import atomic_path
from compression_audit.core.config import AugmentConfig, ModelHParams
from compression_audit.core.device import Runtime
from compression_audit.core.errors import UserError
from compression_audit.core.progress import log, track
from compression_audit.data import augment
from compression_audit.data.augment import CropFlipSampler, to_float_nchw
from compression_audit.data.prepared import PreparedData
from compression_audit.models import networks as models
from compression_audit.models.networks import Classifier


class TrainingDiverged(UserError):
    pass


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    lr: float
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    train_images_per_s: float
    epoch_seconds: float


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_val_acc: float
    history: list[EpochRecord] = field(default_factory=list)
    resumed_from_epoch: int = 0


class WeightAverage:
    """Exponential moving average of a model's weights and BatchNorm statistics (Polyak averaging).

    Holds a copy of the model whose state is, after each ``update()``,
    ``decay * itself + (1 - decay) * live model`` (integer buffers are copied). The live model's
    state_dict tensors share storage with its parameters, which SGD updates in place, so they are
    gathered once instead of every step.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        self._averaged = [a for a, _ in pairs if a.is_floating_point()]
        self._live = [b for a, b in pairs if a.is_floating_point()]
        self._copied = [(a, b) for a, b in pairs if not a.is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self._averaged, self._live, 1.0 - self.decay)  # one fused kernel over all tensors
        for a, b in self._copied:
            a.copy_(b)


def lr_at(step: int, total_steps: int, hp: ModelHParams) -> float:
    """One-cycle schedule: linear warm-up to ``hp.lr``, then linear decay to zero."""
    warmup = max(1, round(hp.warmup_fraction * total_steps))
    if step < warmup:
        return hp.lr * (0.1 + 0.9 * step / warmup)
    return hp.lr * max(0.0, (total_steps - step) / max(1, total_steps - warmup))


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + epoch


def predict_logits(model: torch.nn.Module, images: torch.Tensor, runtime: Runtime, batch_size: int) -> torch.Tensor:
    """Logits (N, classes) float32 on the CPU for uint8 NHWC ``images`` (any device)."""
    was_training = model.training
    model.eval()
    out = []
    with torch.inference_mode(), runtime.autocast():
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].to(runtime.device, non_blocking=True)
            out.append(model(to_float_nchw(batch)).float())  # kept on the device: no per-batch sync
    model.train(was_training)
    if not out:
        return torch.zeros((0, getattr(model, "num_classes", 0)))
    return torch.cat(out).cpu()


def evaluate(model, images, labels, runtime, batch_size) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on uint8 images and int64 labels."""
    logits = predict_logits(model, images, runtime, batch_size)
    labels = labels.cpu()
    loss = F.cross_entropy(logits, labels).item() if len(labels) else float("nan")
    acc = (logits.argmax(1) == labels).float().mean().item() if len(labels) else float("nan")
    return loss, acc


def run_fingerprint(data: PreparedData, arch: str, hp: ModelHParams, aug: AugmentConfig, seed: int,
                    max_train_images: int, runtime: Runtime) -> str:
    """Identifies a training run, so a resume file is only reused by the same run."""
    digest = hashlib.sha256()
    for split in ("train", "val"):
        digest.update(np.ascontiguousarray(data.images[split]).data)
        digest.update(np.ascontiguousarray(data.labels[split]).data)
    spec = {
        "arch": arch, "hp": dataclasses.asdict(hp), "aug": dataclasses.asdict(aug), "seed": seed,
        "max_train_images": max_train_images, "precision": runtime.precision, "device": runtime.device.type,
    }
    digest.update(json.dumps(spec, sort_keys=True).encode())
    for module in (augment, models, sys.modules[__name__]):  # a code change invalidates old resume files
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def training_subset(n: int, max_images: int, seed: int) -> np.ndarray:
    if max_images == 0 or max_images >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:max_images])


def _load_resume(path: Path | None, fingerprint: str) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged resume file is only a lost shortcut
        log(f"ignoring unreadable resume file {path} ({type(exc).__name__}); training from scratch")
        return None
    if state.get("fingerprint") != fingerprint:
        log(f"ignoring resume file {path}: it belongs to another configuration; training from scratch")
        return None
    return state


def fit(
    model: Classifier,
    data: PreparedData,
    hp: ModelHParams,
    aug: AugmentConfig,
    runtime: Runtime,
    seed: int,
    eval_batch_size: int,
    max_train_images: int = 0,
    resume_path: Path | None = None,
) -> FitResult:
    """Train ``model`` in place with SGD and a one-cycle schedule, keeping the best state on validation."""
    device = runtime.device
    subset = training_subset(len(data.labels["train"]), max_train_images, seed)
    sampler = CropFlipSampler(data.images["train"][subset], aug.crop_padding, aug.hflip, device, aug.cutout)
    train_y = torch.from_numpy(data.labels["train"][subset]).to(device)
    val_x = torch.from_numpy(data.images["val"]).to(device)
    val_y = torch.from_numpy(data.labels["val"]).to(device)
    n = len(train_y)
    batch_size = min(hp.batch_size, n)
    steps_per_epoch = n // batch_size  # drop the ragged tail: a 1-sample batch breaks BatchNorm
    total_steps = steps_per_epoch * hp.epochs

    torch.manual_seed(seed)
    model.to(device, memory_format=torch.channels_last).train()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)  # no weight decay on biases and BatchNorm
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=hp.lr, momentum=hp.momentum, nesterov=hp.nesterov,
    )
    scaler = torch.amp.GradScaler(device.type, enabled=runtime.precision == "fp16")
    # with an average, the model validated, kept and returned is the averaged one
    average = WeightAverage(model, hp.ema_decay) if hp.ema_decay else None

    fingerprint = run_fingerprint(data, model.arch, hp, aug, seed, max_train_images, runtime)
    result = FitResult(best_state={}, best_epoch=0, best_val_acc=-1.0)
    start_epoch = 1
    if (state := _load_resume(resume_path, fingerprint)) is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if average is not None:
            average.model.load_state_dict(state["average"])
        result.best_state = state["best_state"]
        result.best_epoch = state["best_epoch"]
        result.best_val_acc = state["best_val_acc"]
        result.history = [EpochRecord(**r) for r in state["history"]]
        start_epoch = state["epoch"] + 1
        result.resumed_from_epoch = state["epoch"]
        log(f"resuming after epoch {state['epoch']} from {resume_path}")

    # Non-finite is the obvious failure; a finite mean loss 100x that of a uniform guess is the same blow-up
    # caught a few steps earlier (no working model ever gets there, and it rarely comes back to something useful).
    chance_loss = math.log(data.num_classes)
    divergence_limit = 100 * chance_loss
    for epoch in range(start_epoch, hp.epochs + 1):
        generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
        torch.manual_seed(epoch_seed(seed, epoch))  # dropout
        perm = torch.randperm(n, generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        model.train()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for step in track(range(steps_per_epoch), total=steps_per_epoch, description=f"epoch {epoch}/{hp.epochs}"):
            idx = perm[step * batch_size : (step + 1) * batch_size]
            x = sampler.batch(idx, generator)
            y = train_y[idx]
            lr = lr_at((epoch - 1) * steps_per_epoch + step, total_steps, hp)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with runtime.autocast():
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=hp.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if average is not None:
                average.update()
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - t0
        seen = steps_per_epoch * batch_size
        train_loss = loss_sum.item() / seen
        scored = model if average is None else average.model
        val_loss, val_acc = evaluate(scored, val_x, val_y, runtime, eval_batch_size)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)) or train_loss > divergence_limit:
            raise TrainingDiverged(
                f"training diverged in epoch {epoch} (mean train loss {train_loss:.4g}, val loss {val_loss:.4g}; "
                f"guessing uniformly costs {chance_loss:.3g}); no checkpoint was written. "
                f"Lower models.{model.arch}.lr (now {hp.lr}) or use train.precision: fp32"
            )
        record = EpochRecord(
            epoch=epoch, lr=round(lr, 8), train_loss=round(train_loss, 6), train_acc=round(correct.item() / seen, 6),
            val_loss=round(val_loss, 6), val_acc=round(val_acc, 6),
            train_images_per_s=round(seen / train_seconds, 2), epoch_seconds=round(time.perf_counter() - t0, 2),
        )
        result.history.append(record)
        if val_acc > result.best_val_acc:
            result.best_val_acc, result.best_epoch = val_acc, epoch
            result.best_state = {k: v.detach().cpu().clone() for k, v in scored.state_dict().items()}
        log(
            f"epoch {epoch}/{hp.epochs}: train loss {train_loss:.4f} acc {record.train_acc:.4f} | "
            f"val loss {val_loss:.4f} acc {val_acc:.4f} (best {result.best_val_acc:.4f} @ {result.best_epoch}) | "
            f"{record.train_images_per_s:.0f} img/s, {record.epoch_seconds:.0f} s"
        )
        if resume_path is not None and epoch < hp.epochs:
            state = {
                "fingerprint": fingerprint, "epoch": epoch, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                **({} if average is None else {"average": average.model.state_dict()}),
                "best_state": result.best_state, "best_epoch": result.best_epoch,
                "best_val_acc": result.best_val_acc, "history": [dataclasses.asdict(r) for r in result.history],
            }
            with atomic_path(resume_path) as tmp:
                torch.save(state, tmp)
    model.load_state_dict(result.best_state)
    model.eval()
    return result
