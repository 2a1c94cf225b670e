"""Any saved model (float checkpoint or quantized variant), loaded once and run on its fastest faithful path.

Float models run on the configured device in channels_last memory format, in fp32 by
default: bf16 is faster on CPUs with native bf16 but changes some predictions itself,
which would be counted as compression flips. Quantized variants run their real int8
kernels, which exist on the CPU only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compression_audit.compress.quantization import QUANTIZED_FORMAT, quantized_from_payload
from compression_audit.core.device import Runtime, resolve_runtime
from compression_audit.data.augment import to_float_nchw
from compression_audit.models.checkpoint import FORMAT as FLOAT_FORMAT
from compression_audit.models.checkpoint import check_header, classifier_from_payload, read_payload
from compression_audit.models.networks import BUILTIN, ModelRegistry
from compression_audit.models.perf import images_per_second


@dataclass
class LoadedModel:
    model: torch.nn.Module
    kind: str  # "float" or "int8"
    runtime: Runtime
    channels_last: bool
    payload: dict[str, Any]

    @property
    def path_name(self) -> str:
        """How this model executes, in words for metrics files."""
        if self.kind == "int8":
            return f"int8 kernels ({self.payload['quant']['backend']}) on cpu"
        return f"{self.runtime.precision} on {self.runtime.device}{', channels_last' if self.channels_last else ''}"


def _load_any(path: str | Path, expect_arch: str, expect_classes: int, registry: ModelRegistry):
    """(float model, None, payload) for a checkpoint or (int8 model, fake-quant twin, payload) for a quantize output."""
    payload = read_payload(path, (FLOAT_FORMAT, QUANTIZED_FORMAT), "train, prune or quantize", registry)
    if payload["format"] == QUANTIZED_FORMAT:
        check_header(path, payload, expect_arch, expect_classes)
        return quantized_from_payload(payload, registry)
    model, payload = classifier_from_payload(path, payload, expect_arch, expect_classes, registry)
    return model, None, payload


def load_model_file(path: str | Path, expect_arch: str, expect_classes: int, device: str, precision: str,
                    threads: int = 0, registry: ModelRegistry = BUILTIN) -> LoadedModel:
    """Load a train/prune checkpoint or a quantize output and place it on its inference path."""
    model, twin, payload = _load_any(path, expect_arch, expect_classes, registry)
    if twin is not None:
        return LoadedModel(model, "int8", resolve_runtime("cpu", "fp32", threads), False, payload)
    runtime = resolve_runtime(device, precision, threads)
    model = model.to(runtime.device, memory_format=torch.channels_last).eval()
    return LoadedModel(model, "float", runtime, True, payload)


@torch.inference_mode()
def predict(loaded: LoadedModel, images_nhwc: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """(logits (N, K) float32, seconds) for uint8 NHWC images, batched, including transfer and conversion."""
    runtime = loaded.runtime
    start = time.perf_counter()
    source = torch.from_numpy(images_nhwc)
    if runtime.device.type == "cuda":
        # uint8 32x32 test sets are tens of MB: one transfer, and logits stay on the device until the end,
        # so no batch waits for a copy or for the previous batch to finish.
        source = source.to(runtime.device)
    out = []
    with runtime.autocast():
        for lo in range(0, len(source), batch_size):
            out.append(loaded.model(to_float_nchw(source[lo : lo + batch_size])).float())
    logits = torch.cat(out).cpu().numpy() if out else np.zeros((0, loaded.payload["num_classes"]), np.float32)
    return logits, time.perf_counter() - start


def raw_images_per_second(loaded: LoadedModel, batch_size: int, seconds: float) -> float:
    """The model's forward pass alone on a device-resident batch: the ceiling evaluation is measured against."""
    runtime = loaded.runtime
    return images_per_second(loaded.model, batch_size, seconds, channels_last=loaded.channels_last,
                             device=runtime.device, autocast=runtime.autocast())


def load_differentiable(path: str | Path, expect_arch: str, expect_classes: int, runtime: Runtime,
                        registry: ModelRegistry = BUILTIN) -> tuple[torch.nn.Module, str]:
    """(model that has gradients, how it is explained) for a float checkpoint or a quantize output.

    int8 kernels have no gradients, so a quantized variant is explained through its fake-quant
    twin, which computes the same quantized function in float arithmetic.
    """
    model, twin, _payload = _load_any(path, expect_arch, expect_classes, registry)
    if twin is not None:
        return twin.to(runtime.device).eval(), "fake-quant twin of the int8 model"
    return model.to(runtime.device, memory_format=torch.channels_last).eval(), "float model"
