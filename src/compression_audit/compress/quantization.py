"""Post-training static quantization with real int8 CPU kernels and a fake-quant twin.

Path: torch.ao.quantization's FX flow (``prepare_qat_fx`` / ``convert_fx``, backend
x86). In torch 2.14 it still executes real int8 kernels (ResNet-18 ~4-6x fp32 eager
on this CPU) but warns that it is deprecated in favour of torchao's PT2E flow; PT2E
only beats fp32 after ``torch.compile(freezing=True)``, which costs compile time in
every stage, and its export of graphs that reuse a module fails. The FX flow also
gives the twin for free, so it is the choice here; the warnings are silenced.

Recipe (identical for 8- and 4-bit weights):
1. fold BatchNorm into the convolutions;
2. insert fake-quant modules: weights per output channel, symmetric, 2^bits levels
   (4-bit: -8..7), activations per tensor, unsigned, histogram-calibrated, on 7 bits
   (0..127) by default (``reduce_range``, PyTorch's x86 default; see ``QuantSpec``);
3. calibrate on validation images with fake-quant off, then freeze the observers and
   turn fake-quant on: this is the twin, differentiable (straight-through), used
   where gradients are needed;
4. write the fake-quantized weights back, so the int8 conversion sees values already
   on the grid (without it 4-bit weights come out with 17 levels), then convert.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.ao.quantization import (
    FakeQuantize,
    HistogramObserver,
    PerChannelMinMaxObserver,
    QConfig,
    QConfigMapping,
    disable_fake_quant,
    disable_observer,
    enable_fake_quant,
    enable_observer,
)
from torch.ao.quantization.quantize_fx import convert_fx, prepare_qat_fx
from torch.fx.experimental.optimization import fuse

from compression_audit.core.config import activation_qmax
from compression_audit.core.errors import UserError
from compression_audit.data.augment import to_float_nchw
from compression_audit.models.checkpoint import model_header, read_payload, write_payload
from compression_audit.models.networks import BUILTIN, Classifier, ModelRegistry

# vpmaddubsw, the int8 multiply of CPUs without VNNI, sums two u8 x s8 products into a saturating int16
INT16_MAX = 32767


@dataclass(frozen=True)
class QuantSpec:
    weight_bits: int  # 4 or 8
    activation_bits: int  # 8
    backend: str = "x86"
    # drop the activations' top bit (0..127 for 8): without VNNI, full-range u8 activations against 8-bit weights
    # overflow that int16 (2 * 255 * 128 > 32767), so the int8 model silently disagrees with its fake-quant twin
    reduce_range: bool = True

    def __post_init__(self) -> None:
        if self.saturates and not torch.cpu._is_vnni_supported():
            raise UserError(
                f"quantize.reduce_range: false with {self.weight_bits}-bit weights needs a CPU with VNNI (avx512_vnni or "
                f"avx_vnni), and this one ({torch.backends.cpu.get_cpu_capability()}) has none: its int8 kernels sum "
                f"pairs of products in 16 bits, which overflow at full-range activations, so the int8 model would not "
                f"compute what its fake-quant twin does. Set quantize.reduce_range: true (7-bit activations)")

    @property
    def activation_qmax(self) -> int:
        return activation_qmax(self.activation_bits, self.reduce_range)

    @property
    def saturates(self) -> bool:
        """Whether a pair of products can overflow a saturating int16 sum."""
        return 2 * self.activation_qmax * 2 ** (self.weight_bits - 1) > INT16_MAX

    @property
    def name(self) -> str:
        return f"W{self.weight_bits}A{self.activation_bits}"


def qconfig_mapping(spec: QuantSpec) -> QConfigMapping:
    half = 2 ** (spec.weight_bits - 1)
    weight = FakeQuantize.with_args(
        observer=PerChannelMinMaxObserver, quant_min=-half, quant_max=half - 1,
        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0,
    )
    activation = FakeQuantize.with_args(
        observer=HistogramObserver, quant_min=0, quant_max=spec.activation_qmax,
        dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False,
    )
    return QConfigMapping().set_global(QConfig(activation=activation, weight=weight))


def make_twin_skeleton(model: nn.Module, spec: QuantSpec) -> torch.fx.GraphModule:
    """BN-folded copy of ``model`` with fake-quant modules inserted, observers empty, in eval mode."""
    torch.backends.quantized.engine = spec.backend
    folded = fuse(copy.deepcopy(model).cpu().eval())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the FX flow's deprecation notices
        prepared = prepare_qat_fx(folded.train(), qconfig_mapping(spec), example_inputs=(torch.rand(2, 3, 32, 32),))
    return prepared.eval()


@torch.no_grad()
def calibrate_twin(model: nn.Module, spec: QuantSpec, images_nhwc: torch.Tensor, batch_size: int) -> torch.fx.GraphModule:
    """The calibrated fake-quant twin of ``model`` (which is left untouched).

    Args:
        images_nhwc: (N, 32, 32, 3) uint8 calibration images (validation split, never test).
    """
    twin = make_twin_skeleton(model, spec)
    twin.apply(disable_fake_quant)
    twin.apply(enable_observer)
    for start in range(0, len(images_nhwc), batch_size):
        twin(to_float_nchw(images_nhwc[start : start + batch_size]))
    twin.apply(disable_observer)
    twin.apply(enable_fake_quant)
    return twin


@torch.no_grad()
def convert_to_int8(twin: torch.fx.GraphModule, spec: QuantSpec) -> torch.fx.GraphModule:
    """Real int8 model with the twin's scales, zero points and weight grid."""
    torch.backends.quantized.engine = spec.backend
    staged = copy.deepcopy(twin)
    for module in staged.modules():
        if hasattr(module, "weight_fake_quant"):
            module.weight.copy_(module.weight_fake_quant(module.weight))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_fx(staged).eval()


def int8_skeleton(model: nn.Module, spec: QuantSpec) -> torch.fx.GraphModule:
    """An int8 model of the right structure, to load a saved int8 state_dict into."""
    return convert_to_int8(make_twin_skeleton(model, spec), spec)


def quantized_weights(int8_model: nn.Module) -> dict[str, torch.Tensor]:
    """Integer weight values (int_repr) of every quantized conv / linear, by module name."""
    out = {}
    for name, module in int8_model.named_modules():
        weight = getattr(module, "weight", None)
        if callable(weight):
            w = weight()
            if w.is_quantized:
                out[name] = w.int_repr()
    return out


def max_levels_per_channel(int8_model: nn.Module) -> int:
    """The largest number of distinct weight values in any output channel."""
    levels = 0
    for w in quantized_weights(int8_model).values():
        flat = w.reshape(w.shape[0], -1)
        levels = max(levels, max(len(torch.unique(row)) for row in flat))
    return levels


def zeros_kept(float_model: nn.Module, int8_model: nn.Module) -> tuple[int, int]:
    """(pruned zeros that are still exactly zero after quantization, pruned zeros in the float model)."""
    float_weights = {name: m.weight for name, m in float_model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    kept = total = 0
    for name, w in quantized_weights(int8_model).items():
        zero = float_weights[name] == 0
        kept += int((zero & (w == 0)).sum())
        total += int(zero.sum())
    return kept, total



QUANTIZED_FORMAT = "compression-audit/quantized-v1"


def save_quantized(path: str | Path, float_model: Classifier, twin: torch.nn.Module, int8: torch.nn.Module,
                   spec: QuantSpec, class_names: tuple[str, ...], info: dict[str, Any]) -> None:
    """Both executions of one quantized variant: the real int8 model and its fake-quant twin.

    Only state dicts are stored (tensors, including quantized ones, plus plain data);
    the graphs are rebuilt from the architecture and the quantization spec on load.
    """
    write_payload(path, {
        "format": QUANTIZED_FORMAT,
        **model_header(float_model, class_names, info),
        "quant": dataclasses.asdict(spec),
        "twin_state_dict": {k: v.detach().cpu() for k, v in twin.state_dict().items()},
        "int8_state_dict": int8.state_dict(),
    })


def load_quantized(path: str | Path, registry: ModelRegistry = BUILTIN
                   ) -> tuple[torch.nn.Module, torch.nn.Module, dict[str, Any]]:
    """(int8 model, fake-quant twin, payload) of a quantized checkpoint."""
    return quantized_from_payload(read_payload(path, QUANTIZED_FORMAT, "quantize", registry), registry)


def quantized_from_payload(payload: dict[str, Any], registry: ModelRegistry = BUILTIN
                           ) -> tuple[torch.nn.Module, torch.nn.Module, dict[str, Any]]:
    spec = QuantSpec(**{"reduce_range": False, **payload["quant"]})  # checkpoints older than the field used all 8 bits
    skeleton = Classifier(payload["arch"], payload["num_classes"], payload["mean"], payload["std"], registry).eval()
    twin = make_twin_skeleton(skeleton, spec)
    twin.load_state_dict(payload["twin_state_dict"])
    int8 = int8_skeleton(skeleton, spec)
    int8.load_state_dict(payload["int8_state_dict"])
    return int8.eval(), twin.eval(), payload
