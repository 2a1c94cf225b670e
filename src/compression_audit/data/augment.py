"""Batched training augmentation: random crop (reflect padding), horizontal flip and cutout.

The dataset is padded (and mirrored, when flips are on) once per training run and
kept on the device; a strided view then exposes every crop window of every image
without copying. A batch is a single gather from that view, whose innermost unit
is a whole crop row, so gather, crop and flip together cost about as much as
copying the batch (0.4 ms vs 1.9 ms for per-pixel indexing, 256 CIFAR images, CPU).
"""

from __future__ import annotations

import numpy as np
import torch


class CropFlipSampler:
    """Augmented batches from an in-memory uint8 dataset.

    Args:
        images: (N, H, W, C) uint8 array.
        padding: maximum shift in pixels of the random crop (reflect padding); 0 for none.
        hflip: mirror each sample with probability 0.5.
        device: where the padded table lives and batches are made.
        cutout: side in pixels of a square zeroed at a uniformly drawn centre of each sample
            (DeVries & Taylor 2017; the square is clipped at the border); 0 for none.
    """

    def __init__(self, images: np.ndarray, padding: int, hflip: bool, device: torch.device, cutout: int = 0) -> None:
        n, height, width, channels = images.shape
        p = padding
        padded = np.pad(images, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect") if p else images
        variants = [padded, padded[:, :, ::-1]] if hflip else [padded]
        table = torch.from_numpy(np.ascontiguousarray(np.stack(variants))).to(device)
        s = table.stride()
        # (variant, sample, dy, dx, row, row bytes): moving dx by one shifts the row window by C bytes
        self.windows = table.as_strided(
            (len(variants), n, 2 * p + 1, 2 * p + 1, height, width * channels), (s[0], s[1], s[2], s[3], s[2], 1)
        )
        self._table = table  # keeps the storage alive for the view
        self.padding, self.hflip, self.device, self.cutout = p, hflip, device, cutout
        self.shape = (height, width, channels)
        self._rows = torch.arange(height, device=device)
        self._cols = torch.arange(width, device=device)

    def batch(self, batch_idx: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, C, H, W) float32 in [0, 1], channels_last, for the samples ``batch_idx`` (on the device).

        Draws, in this order from the CPU ``generator``: flips (if enabled), vertical, then horizontal shifts,
        then (if enabled) the cutout centres' rows and columns.
        """
        b = batch_idx.shape[0]
        flip = (torch.rand(b, generator=generator) < 0.5).long() if self.hflip else torch.zeros(b, dtype=torch.long)
        span = 2 * self.padding + 1
        draws = [flip, torch.randint(0, span, (b,), generator=generator), torch.randint(0, span, (b,), generator=generator)]
        if self.cutout:
            height, width, _ = self.shape
            draws += [torch.randint(0, height, (b,), generator=generator), torch.randint(0, width, (b,), generator=generator)]
        packed = torch.stack(draws)
        dev = self.device
        if dev.type == "cuda":
            # One asynchronous copy from (cached) pinned memory: a plain .to(dev) of pageable memory waits for the
            # GPU to drain, so the host could never queue the next step while this one runs.
            packed = packed.pin_memory().to(dev, non_blocking=True)
        flip, dy, dx = packed[0], packed[1], packed[2]
        rows = self.windows[flip, batch_idx, dy, dx]  # (B, H, W*C), a fresh copy
        images = rows.view(b, *self.shape)
        if self.cutout:
            top = packed[3][:, None] - self.cutout // 2
            left = packed[4][:, None] - self.cutout // 2
            in_rows = (self._rows >= top) & (self._rows < top + self.cutout)  # (B, H)
            in_cols = (self._cols >= left) & (self._cols < left + self.cutout)  # (B, W)
            images.masked_fill_((in_rows[:, :, None] & in_cols[:, None, :])[..., None], 0)
        return to_float_nchw(images)


def to_float_nchw(images_nhwc: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [0, 1]; the permuted view is already channels_last."""
    return images_nhwc.permute(0, 3, 1, 2).float().div_(255.0)
