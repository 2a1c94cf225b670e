"""What a model costs: size on disk, CPU latency and throughput, measured the same way for every variant."""

from __future__ import annotations

import contextlib
import io
import time

import torch
from torch import nn


@torch.inference_mode()
def images_per_second(model: nn.Module, batch_size: int, min_seconds: float, channels_last: bool = False,
                      device: torch.device | str = "cpu", autocast: contextlib.AbstractContextManager | None = None) -> float:
    """Throughput on a random 32x32 RGB batch already on ``device``, after two warm-up batches, over at least ``min_seconds``."""
    device = torch.device(device)
    x = torch.rand(batch_size, 3, 32, 32, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    model.eval()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with autocast or contextlib.nullcontext():
        for _ in range(2):
            model(x)
        sync()
        runs, start = 0, time.perf_counter()
        while True:
            model(x)
            runs += 1
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds and runs >= 3:
                return runs * batch_size / elapsed


def cpu_speed(model: nn.Module, large_batch: int, min_seconds: float) -> dict:
    """Batch-1 latency (ms) and large-batch throughput (images/s) on the CPU."""
    batch1 = images_per_second(model, 1, min_seconds / 2)
    large = images_per_second(model, large_batch, min_seconds)
    return {"latency_ms_batch1": round(1000 / batch1, 3), "images_per_s_large_batch": round(large, 1), "large_batch": large_batch}


def serialized_bytes(state_dict: dict) -> int:
    """Bytes of ``torch.save(state_dict)``: the size the model takes on disk."""
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.getbuffer().nbytes
