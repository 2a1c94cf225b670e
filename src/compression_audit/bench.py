"""Training throughput: the train stage's loop next to a bare loop on random tensors.

Both run in the same process, on the same device, with the same batch size and
precision, so their ratio shows what the data path (gather, crop, flip, labels,
schedule, bookkeeping) costs on top of forward + backward + step.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
import torch.nn.functional as F

from compression_audit.config import AugmentConfig, ModelHParams
from compression_audit.device import Runtime
from compression_audit.models import Classifier
from compression_audit.prepared import PreparedData
from compression_audit.training import fit


def bare_loop_images_per_s(arch: str, num_classes: int, batch_size: int, min_seconds: float,
                           runtime: Runtime) -> tuple[float, int]:
    """forward + backward + SGD step on one random batch, repeated for at least ``min_seconds``.

    Returns (images/s, steps measured), so the stage loop can be timed over as many steps.
    """
    torch.manual_seed(0)
    model = Classifier(arch, num_classes, (0.5,) * 3, (0.25,) * 3).to(runtime.device, memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.rand(batch_size, 3, 32, 32, device=runtime.device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, num_classes, (batch_size,), device=runtime.device)

    def step() -> None:
        with runtime.autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def sync() -> None:
        if runtime.device.type == "cuda":
            torch.cuda.synchronize(runtime.device)

    for _ in range(3):  # warm-up: allocator, oneDNN primitives, autocast caches
        step()
    sync()
    steps, start = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        if steps % 5 == 0 or steps < 5:
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds and steps >= 3:
                return steps * batch_size / elapsed, steps


def stage_loop_images_per_s(arch: str, hp: ModelHParams, aug: AugmentConfig, steps: int, runtime: Runtime,
                            num_classes: int = 10) -> float:
    """The train stage's own fit() for one epoch of ``steps`` batches on random uint8 images."""
    rng = np.random.default_rng(0)
    n = steps * hp.batch_size
    labels = {s: rng.integers(0, num_classes, m).astype(np.int64) for s, m in (("train", n), ("val", 64), ("test", 64))}
    images = {s: rng.integers(0, 256, (len(v), 32, 32, 3), dtype=np.uint8) for s, v in labels.items()}
    data = PreparedData("bench", tuple(str(i) for i in range(num_classes)), images, labels, (0.5,) * 3, (0.25,) * 3)
    # one extra epoch warms up exactly like the bare loop's warm-up step; the second is measured
    hp = dataclasses.replace(hp, epochs=2)
    torch.manual_seed(0)
    model = Classifier(arch, num_classes, data.mean, data.std)
    result = fit(model, data, hp, aug, runtime, seed=0, eval_batch_size=256)
    return result.history[-1].train_images_per_s
