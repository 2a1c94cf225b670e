"""Magnitude (or random) pruning of conv and linear weights, made permanent.

Unstructured pruning zeroes single weights, globally (one threshold over all layers,
torch's ``global_unstructured``) or per layer. Channel-structured pruning zeroes whole
output channels per layer, ranked by their L1 or L2 norm; the classifier's output
layer is never channel-pruned, since its channels are the classes. After pruning the
reparametrisation is removed: the model holds plain dense tensors with zeros.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn.utils import prune

Scope = Literal["global", "local"]
Structure = Literal["unstructured", "channel"]
Score = Literal["l1", "l2", "random"]


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every Conv2d and Linear, in definition order, with its qualified name."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def prune_model(model: nn.Module, amount: float, scope: Scope = "global", structure: Structure = "unstructured",
                score: Score = "l1", seed: int = 0) -> nn.Module:
    """Prune ``model`` in place and make it permanent; returns the model.

    Args:
        amount: fraction in [0, 1) of the weights (unstructured) or of each layer's
            output channels (channel) to zero.
        scope: "global" ranks all weights together, "local" prunes each layer by ``amount``.
        structure: "unstructured" or "channel" (channel needs scope "local").
        score: "l1" / "l2" magnitude (identical rankings for single weights; they differ
            for channels) or "random", the control that shows whether magnitude matters.
        seed: drives the "random" score.
    """
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount must be in [0, 1), got {amount}")
    if structure == "channel" and scope == "global":
        raise ValueError("channel-structured pruning is per layer: use scope 'local'")
    layers = prunable_layers(model)
    torch.manual_seed(seed)
    if amount > 0:
        if structure == "unstructured" and scope == "global":
            method = prune.RandomUnstructured if score == "random" else prune.L1Unstructured
            prune.global_unstructured([(m, "weight") for _, m in layers], pruning_method=method, amount=amount)
        elif structure == "unstructured":
            for _, m in layers:
                if score == "random":
                    prune.random_unstructured(m, "weight", amount=amount)
                else:
                    prune.l1_unstructured(m, "weight", amount=amount)
        else:
            for _, m in layers[:-1]:  # the last layer's output channels are the classes
                if score == "random":
                    prune.random_structured(m, "weight", amount=amount, dim=0)
                else:
                    prune.ln_structured(m, "weight", amount=amount, n=1 if score == "l1" else 2, dim=0)
    make_permanent(model)
    return model


def make_permanent(model: nn.Module) -> None:
    """Fold every pruning mask into its weight and drop the reparametrisation hooks."""
    for _, m in prunable_layers(model):
        if prune.is_pruned(m):
            prune.remove(m, "weight")


def sparsity(model: nn.Module) -> dict:
    """Measured zeros of the prunable weights: global share and per layer (name, zeros, total, share)."""
    layers = []
    zeros = total = 0
    for name, m in prunable_layers(model):
        z, t = int((m.weight == 0).sum()), m.weight.numel()
        zeros, total = zeros + z, total + t
        layers.append({"layer": name, "zeros": z, "weights": t, "sparsity": round(z / t, 6)})
    return {"sparsity": round(zeros / total, 6) if total else 0.0, "zeros": zeros, "weights": total, "layers": layers}


def amount_grid(step: float) -> list[float]:
    """0, step, 2*step, ... below 1 (rounded to avoid float drift: 0.725, not 0.7249999)."""
    n = math.floor((1.0 - 1e-9) / step) + 1
    return [round(i * step, 6) for i in range(n)]
