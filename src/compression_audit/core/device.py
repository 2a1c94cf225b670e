"""Device and numeric precision: CUDA when present, bf16 autocast where the hardware has it."""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass

import torch

from compression_audit.core.errors import UserError


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    precision: str  # "fp32", "bf16" or "fp16"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        dtype = self.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def describe(self) -> dict:
        info = {"device": str(self.device), "precision": self.precision, "torch": str(torch.__version__)}
        if self.device.type == "cuda":
            info["device_name"] = torch.cuda.get_device_name(self.device)
        else:
            info["device_name"] = platform.processor() or platform.machine()
            info["threads"] = torch.get_num_threads()
        return info


def cpu_has_bf16() -> bool:
    # oneDNN reports native bf16 (AVX512-BF16 / AMX); without it bf16 is emulated and slower than fp32.
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_runtime(device: str, precision: str, threads: int = 0) -> Runtime:
    if device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"train.device is {device!r} but no CUDA device is available; use auto or cpu")
    if threads:
        torch.set_num_threads(threads)
    if precision == "auto":
        if dev.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "bf16" if cpu_has_bf16() else "fp32"
    if precision == "fp16" and dev.type != "cuda":
        raise UserError("train.precision fp16 needs a CUDA device; use auto, bf16 or fp32 on the CPU")
    return Runtime(dev, precision)
