"""Saliency maps with captum and their comparison (DESIGN.md §6, saliency row).

A map is the attribution of the target class's logit to the input pixels, absolute, reduced
over colour channels by the maximum, and normalised to [0, 1] by its own maximum. Two maps of
the same image are compared by the mean absolute deviation (MAD, in %), the Spearman rank
correlation over pixels, and the overlap of their top-10 % pixels.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import numpy as np
import torch
from captum.attr import GuidedBackprop, IntegratedGradients, Saliency
from scipy import stats

from compression_audit.core.device import Runtime
from compression_audit.data.augment import to_float_nchw
from compression_audit.measure.metrics import bootstrap_interval

METHODS = {"saliency": Saliency, "integrated_gradients": IntegratedGradients, "guided_backprop": GuidedBackprop}
TOP_FRACTION = 0.10


@contextlib.contextmanager
def input_gradients_only(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Eval mode with frozen parameters (no weight gradients: ~35 % faster); restores mode, flags and ``.grad``."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    was_training = model.training
    try:
        for p in params:
            p.requires_grad_(False)
        yield model.eval()
    finally:
        for p, flag, grad in zip(params, flags, grads):
            p.requires_grad_(flag)
            p.grad = grad
        model.train(was_training)


def reduce_and_normalize(attr: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) attributions -> (B, H, W) maps: absolute, max over channels, divided by each map's maximum."""
    maps = attr.detach().float().abs().amax(dim=1)
    peak = maps.flatten(1).amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny)
    return maps / peak[:, None, None]


def attribute(model: torch.nn.Module, images_nhwc: np.ndarray, targets: np.ndarray, method: str, runtime: Runtime,
              batch_size: int, ig_steps: int = 32) -> tuple[np.ndarray, float]:
    """(maps (N, 32, 32) float32 in [0, 1], seconds) for uint8 NHWC images and one target class per image.

    ``model`` is left as it was found: parameters, their ``requires_grad`` and ``.grad``, and train/eval mode.
    """
    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; valid: {', '.join(METHODS)}")
    out = []
    start = time.perf_counter()
    with input_gradients_only(model):
        explainer = METHODS[method](model)
        for lo in range(0, len(images_nhwc), batch_size):
            x = to_float_nchw(torch.from_numpy(images_nhwc[lo : lo + batch_size]).to(runtime.device))
            x = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
            t = torch.as_tensor(targets[lo : lo + batch_size].astype(np.int64), device=runtime.device)
            with runtime.autocast():
                if method == "saliency":
                    attr = explainer.attribute(x, target=t, abs=True)
                elif method == "integrated_gradients":
                    attr = explainer.attribute(x, baselines=torch.zeros_like(x), target=t, n_steps=ig_steps,
                                               internal_batch_size=len(x))
                else:
                    attr = explainer.attribute(x, target=t)
            out.append(reduce_and_normalize(attr).cpu())
    maps = torch.cat(out).numpy() if out else np.zeros((0, 32, 32), np.float32)
    return maps, time.perf_counter() - start


def mad_percent(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-sample mean absolute deviation of two normalised maps, in % of the maximum."""
    return 100.0 * np.abs(a.astype(np.float32) - b.astype(np.float32)).reshape(len(a), -1).mean(axis=1)


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-sample Spearman rank correlation over pixels (average ranks for ties; NaN when a map is constant)."""
    ra = stats.rankdata(a.reshape(len(a), -1).astype(np.float32), axis=1)
    rb = stats.rankdata(b.reshape(len(b), -1).astype(np.float32), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(axis=1) / denom, np.nan)


def top_overlap(a: np.ndarray, b: np.ndarray, fraction: float = TOP_FRACTION) -> np.ndarray:
    """Per-sample share of the top ``fraction`` pixels of map a that are also among b's (ties: lower index first)."""
    fa, fb = a.reshape(len(a), -1), b.reshape(len(b), -1)
    k = max(1, math.ceil(fraction * fa.shape[1]))
    top_a = np.argsort(-fa.astype(np.float32), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-fb.astype(np.float32), axis=1, kind="stable")[:, :k]
    mask_a = np.zeros(fa.shape, bool)
    mask_b = np.zeros(fb.shape, bool)
    np.put_along_axis(mask_a, top_a, True, axis=1)
    np.put_along_axis(mask_b, top_b, True, axis=1)
    return (mask_a & mask_b).sum(axis=1) / k


def mean_interval(values: np.ndarray, resamples: int, seed: int) -> dict:
    """Mean with a 95 % percentile bootstrap interval (NaNs dropped)."""
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    low, high = bootstrap_interval(v, resamples, np.random.default_rng(seed))
    return {"mean": float(v.mean()), "ci_low": low, "ci_high": high, "n": int(len(v))}
