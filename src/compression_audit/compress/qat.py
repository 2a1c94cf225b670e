"""Quantization-aware training: fine-tune the calibrated fake-quant twin, then convert.

The twin (quantization.calibrate_twin) is BatchNorm-folded and runs every weight and activation
through fake quantization with straight-through gradients, so training it teaches the weights to
live on the quantization grid. Its quantization parameters stay frozen at their calibrated values
(observers off): the weights move under a fixed per-channel grid and the activations keep their
validation-calibrated ranges, so the scales the int8 model uses are exactly those it was trained
with and the converted model agrees with its twin. Training itself is the baseline's loop
(training.fit: same augmentation, one-cycle schedule, best epoch on validation), in fp32 because
fake quantization under autocast would round twice.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace

import torch

from compression_audit.core.config import AugmentConfig, ModelHParams
from compression_audit.core.device import Runtime
from compression_audit.core.progress import log
from compression_audit.data.prepared import PreparedData
from compression_audit.models.training import evaluate, fit, training_subset


@dataclass(frozen=True)
class QatResult:
    epochs: int
    lr: float
    images: int  # training images per epoch
    val_acc_before: float  # the calibrated twin (PTQ) on the validation split
    val_acc_after: float  # the fine-tuned twin, best epoch
    best_epoch: int
    seconds: float


def qat_finetune(twin: torch.fx.GraphModule, arch: str, data: PreparedData, hp: ModelHParams, aug: AugmentConfig,
                 runtime: Runtime, seed: int, eval_batch_size: int, epochs: int, lr: float,
                 max_images: int) -> QatResult:
    """Train ``twin`` in place (frozen quantization parameters, fp32) and leave it on the CPU in eval mode."""
    if runtime.precision != "fp32":
        raise ValueError(f"QAT runs in fp32, got a {runtime.precision} runtime")
    twin.arch = arch  # fit names the model by it in its fingerprint and messages
    val = torch.from_numpy(data.images["val"]), torch.from_numpy(data.labels["val"])
    twin.to(runtime.device)
    _, before = evaluate(twin, *val, runtime, eval_batch_size)
    images = len(training_subset(len(data.labels["train"]), max_images, seed))
    log(f"QAT: {epochs} epoch(s) on {images} training images at lr {lr}, from validation accuracy {before:.4f} (PTQ)")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the FX flow's deprecation notices
        result = fit(twin, data, replace(hp, epochs=epochs, lr=lr, ema_decay=0.0), aug, runtime, seed, eval_batch_size,
                     max_images)
    twin.cpu().eval()
    return QatResult(epochs=epochs, lr=lr, images=images, val_acc_before=round(before, 6),
                     val_acc_after=round(result.best_val_acc, 6), best_epoch=result.best_epoch,
                     seconds=round(time.perf_counter() - start, 2))
