"""Batched training augmentation on whole uint8 batches: random crop (reflect padding) and flip.

Crop, flip and the batch gather are one indexing operation on the dataset tensor,
so augmentation costs about as much as copying the batch, with no per-image Python.
"""

from __future__ import annotations

import torch


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Map indices in [-size+1, 2*size-2] into [0, size) the way reflect padding does."""
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


def augmented_batch(
    images: torch.Tensor,
    batch_idx: torch.Tensor,
    padding: int,
    hflip: bool,
    generator: torch.Generator,
) -> torch.Tensor:
    """Gather, crop and flip a batch.

    Args:
        images: (N, H, W, C) uint8 dataset tensor, on the training device.
        batch_idx: (B,) int64 sample indices, on the same device.
        padding: maximum shift in pixels (reflect-padded random crop); 0 for none.
        hflip: flip each sample horizontally with probability 0.5.
        generator: CPU generator that draws the shifts and flips (seeded, so reruns match).

    Returns:
        (B, C, H, W) float32 in [0, 1], channels_last memory format.
    """
    height, width = images.shape[1], images.shape[2]
    b = batch_idx.shape[0]
    rows = torch.arange(height).expand(b, height)
    cols = torch.arange(width).expand(b, width)
    if hflip:
        flip = torch.rand(b, 1, generator=generator) < 0.5
        cols = torch.where(flip, width - 1 - cols, cols)
    if padding:
        rows = rows + torch.randint(-padding, padding + 1, (b, 1), generator=generator)
        cols = cols + torch.randint(-padding, padding + 1, (b, 1), generator=generator)
        rows, cols = _reflect(rows, height), _reflect(cols, width)
    device = images.device
    rows, cols = rows.to(device, non_blocking=True), cols.to(device, non_blocking=True)
    batch = images[batch_idx[:, None, None], rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return to_float_nchw(batch)


def to_float_nchw(images_nhwc: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [0, 1]; the permuted view is already channels_last."""
    return images_nhwc.permute(0, 3, 1, 2).float().div_(255.0)
