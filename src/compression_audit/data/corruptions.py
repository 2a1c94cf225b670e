"""Common corruptions of uint8 test images, after CIFAR-10-C (Hendrycks & Dietterich, ICLR 2019).

Each corruption maps a batch of uint8 NHWC images and one strength to a new uint8 batch
of the same shape. The strengths of CIFAR-10-C's five severities are in ``CIFAR10_C``;
params.yaml may override them. Two deliberate differences from the published generator:
results are rounded to the nearest level where CIFAR-10-C truncates (truncation darkens
every image by half a level on average and breaks the identity at zero strength), and the
randomness comes from a seeded numpy Generator per (corruption, severity), so a set is
rebuilt bit for bit.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
from PIL import Image
from scipy.ndimage import gaussian_filter

# CIFAR-10-C's strengths, severity 1..5 (make_cifar_c.py of hendrycks/robustness).
CIFAR10_C: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),   # std of additive noise, images in [0, 1]
    "shot_noise": (500, 250, 100, 75, 50),              # photons at full intensity (Poisson); fewer = noisier
    "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),         # sigma in pixels
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),            # factor on the distance from each image's channel means
    "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),          # added to HSV value
    "jpeg_compression": (80, 65, 58, 50, 40),           # JPEG quality
    "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),          # side of the box-downsampled image, fraction of the original
}

# The strength at which a corruption changes nothing (JPEG has none: every quality is lossy).
IDENTITY_STRENGTH: dict[str, float | None] = {
    "gaussian_noise": 0.0, "shot_noise": float("inf"), "gaussian_blur": 0.0, "contrast": 1.0,
    "brightness": 0.0, "jpeg_compression": None, "pixelate": 1.0,
}


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8, clipped and rounded."""
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def gaussian_noise(images: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    x = images / 255.0
    return _to_uint8(x + rng.normal(size=x.shape, scale=std)) if std > 0 else images.copy()


def shot_noise(images: np.ndarray, photons: float, rng: np.random.Generator) -> np.ndarray:
    if np.isinf(photons):
        return images.copy()
    x = images / 255.0
    return _to_uint8(rng.poisson(x * photons) / photons)


def gaussian_blur(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    # skimage.filters.gaussian's defaults, as CIFAR-10-C used them: nearest-edge mode, kernel truncated at 4 sigma
    x = images / 255.0
    return _to_uint8(gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="nearest", truncate=4.0))


def contrast(images: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    x = images / 255.0
    means = x.mean(axis=(1, 2), keepdims=True)
    return _to_uint8((x - means) * factor + means)


def brightness(images: np.ndarray, shift: float, rng: np.random.Generator) -> np.ndarray:
    hsv = rgb_to_hsv(images / 255.0)
    hsv[..., 2] = np.clip(hsv[..., 2] + shift, 0.0, 1.0)
    return _to_uint8(hsv_to_rgb(hsv))


def jpeg_compression(images: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    out = np.empty_like(images)
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
        buffer.seek(0)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def pixelate(images: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    height, width = images.shape[1:3]
    small = (max(1, int(width * fraction)), max(1, int(height * fraction)))
    out = np.empty_like(images)
    for i, image in enumerate(images):
        im = Image.fromarray(image).resize(small, Image.Resampling.BOX)
        out[i] = np.asarray(im.resize((width, height), Image.Resampling.BOX))
    return out


CORRUPTIONS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "gaussian_noise": gaussian_noise, "shot_noise": shot_noise, "gaussian_blur": gaussian_blur,
    "contrast": contrast, "brightness": brightness, "jpeg_compression": jpeg_compression, "pixelate": pixelate,
}


def rng_for(seed: int, name: str, severity: int) -> np.random.Generator:
    """The generator of one (corruption, severity): independent of which other corruptions are configured."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), severity])


def corrupt(images: np.ndarray, name: str, strength: float, rng: np.random.Generator) -> np.ndarray:
    """``images`` (N, H, W, 3) uint8 under corruption ``name`` at ``strength``; a new uint8 array."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 (N, H, W, 3) images, got {images.dtype} {images.shape}")
    return CORRUPTIONS[name](images, strength, rng)


def corrupted_sets(images: np.ndarray, strengths: Mapping[str, Sequence[float]], seed: int,
                   progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """{corruption: (severities, N, H, W, 3) uint8}; severity k (1-based) uses ``strengths[name][k - 1]``."""
    out = {}
    for name, values in strengths.items():
        out[name] = np.stack([corrupt(images, name, s, rng_for(seed, name, k)) for k, s in enumerate(values, 1)])
        if progress:
            progress(name)
    return out
