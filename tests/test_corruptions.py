import numpy as np
import pytest

from compression_audit.core.config import CORRUPTION_RANGES, check_strengths
from compression_audit.data.corruptions import (CIFAR10_C, CORRUPTIONS, IDENTITY_STRENGTH, corrupt, corrupted_sets,
    rng_for)


def _images(n=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", [n for n, s in IDENTITY_STRENGTH.items() if s is not None])
def test_zero_strength_is_the_identity(name):
    images = _images()
    out = corrupt(images, name, IDENTITY_STRENGTH[name], rng_for(0, name, 1))
    assert out.dtype == np.uint8 and np.array_equal(out, images)
    assert out is not images


@pytest.mark.parametrize("name", list(CORRUPTIONS))
@pytest.mark.parametrize("severity", [1, 5])
def test_every_severity_keeps_shape_dtype_and_changes_the_images(name, severity):
    images = _images()
    out = corrupt(images, name, CIFAR10_C[name][severity - 1], rng_for(0, name, severity))
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not np.array_equal(out, images)


def test_sets_are_identical_for_a_seed_and_differ_for_another():
    images = _images(4)
    strengths = {"gaussian_noise": [0.04, 0.1], "shot_noise": [500], "jpeg_compression": [80]}
    a = corrupted_sets(images, strengths, seed=0)
    b = corrupted_sets(images, strengths, seed=0)
    c = corrupted_sets(images, strengths, seed=1)
    assert {k: v.shape for k, v in a.items()} == {"gaussian_noise": (2, 4, 32, 32, 3), "shot_noise": (1, 4, 32, 32, 3),
                                                  "jpeg_compression": (1, 4, 32, 32, 3)}
    for name in strengths:
        assert np.array_equal(a[name], b[name])
    assert not np.array_equal(a["gaussian_noise"], c["gaussian_noise"])
    assert not np.array_equal(a["shot_noise"], c["shot_noise"])
    assert np.array_equal(a["jpeg_compression"], c["jpeg_compression"])  # deterministic corruption: no randomness
    # a corruption's images do not depend on which others are configured
    alone = corrupted_sets(images, {"shot_noise": [500]}, seed=0)
    assert np.array_equal(alone["shot_noise"], a["shot_noise"])


def test_gaussian_noise_has_the_configured_std():
    images = np.full((64, 32, 32, 3), 128, np.uint8)  # mid-grey: clipping at 0 or 1 is > 12 std away
    out = corrupt(images, "gaussian_noise", 0.04, rng_for(0, "gaussian_noise", 1)).astype(float)
    assert abs((out - 128).std() / 255 - 0.04) < 0.001
    assert abs((out - 128).mean()) < 0.1


def test_shot_noise_is_poisson_in_photon_counts():
    images = np.full((64, 32, 32, 3), 102, np.uint8)  # x = 0.4
    photons = 100
    out = corrupt(images, "shot_noise", photons, rng_for(0, "shot_noise", 1)) / 255.0
    # counts ~ Poisson(0.4 * 100): mean 0.4 and variance 0.4 / 100 in image units
    assert abs(out.mean() - 0.4) < 0.002
    assert abs(out.var() - 0.4 / photons) / (0.4 / photons) < 0.05


def test_contrast_pulls_every_pixel_to_its_channel_mean():
    images = _images(3)
    flat = corrupt(images, "contrast", 0.0, rng_for(0, "contrast", 1))
    means = np.rint(images.mean(axis=(1, 2)))  # (N, 3)
    assert np.array_equal(flat, np.broadcast_to(means[:, None, None, :], images.shape).astype(np.uint8))
    half = corrupt(images, "contrast", 0.5, rng_for(0, "contrast", 1)).astype(float)
    expected = np.rint((images - images.mean(axis=(1, 2), keepdims=True)) * 0.5 + images.mean(axis=(1, 2), keepdims=True))
    assert np.array_equal(half, expected)


def test_brightness_lifts_a_grey_image_by_the_shift():
    images = np.full((2, 32, 32, 3), 100, np.uint8)  # grey: saturation 0, value 100/255
    out = corrupt(images, "brightness", 0.2, rng_for(0, "brightness", 1))
    assert np.all(out == np.uint8(np.rint(100 + 0.2 * 255)))
    assert np.all(corrupt(np.full((1, 32, 32, 3), 250, np.uint8), "brightness", 0.3, rng_for(0, "brightness", 1)) == 255)


def test_gaussian_blur_keeps_flat_images_and_spreads_an_impulse_symmetrically():
    flat = np.full((1, 32, 32, 3), 77, np.uint8)
    assert np.array_equal(corrupt(flat, "gaussian_blur", 1.0, rng_for(0, "gaussian_blur", 1)), flat)
    impulse = np.zeros((1, 32, 32, 3), np.uint8)
    impulse[0, 16, 16] = 255
    out = corrupt(impulse, "gaussian_blur", 1.0, rng_for(0, "gaussian_blur", 1))[0, ..., 0].astype(float)
    # sigma 1: the centre keeps 1 / (2 pi) of the mass (0.159 -> 41 of 255), the direct neighbours exp(-1/2) of that
    assert abs(out[16, 16] - 255 / (2 * np.pi)) <= 1
    assert abs(out[16, 17] / out[16, 16] - np.exp(-0.5)) < 0.05
    window = out[8:25, 8:25]  # centred on the impulse
    assert np.array_equal(window, window.T) and np.array_equal(window, window[::-1, ::-1])
    assert abs(out.sum() - 255) <= 10  # mass preserved up to rounding of ~25 pixels


def test_pixelate_by_half_replaces_each_2x2_block_with_its_mean():
    images = _images(2)
    out = corrupt(images, "pixelate", 0.5, rng_for(0, "pixelate", 1)).astype(float)
    blocks = images.reshape(2, 16, 2, 16, 2, 3).astype(float).mean(axis=(2, 4))
    expected = np.repeat(np.repeat(blocks, 2, axis=1), 2, axis=2)
    assert np.abs(out - expected).max() <= 1  # PIL rounds box means in 8-bit arithmetic


def test_jpeg_is_lossy_and_worse_at_lower_quality():
    images = _images(4)
    errors = [np.abs(corrupt(images, "jpeg_compression", q, rng_for(0, "jpeg", 1)).astype(float) - images).mean()
              for q in (95, 80, 40)]
    assert 0 < errors[0] < errors[1] < errors[2]


def test_bad_input_and_strengths_are_named():
    with pytest.raises(ValueError, match=r"expected uint8 \(N, H, W, 3\) images, got float64"):
        corrupt(np.zeros((1, 32, 32, 3)), "contrast", 0.5, rng_for(0, "contrast", 1))
    assert check_strengths("fog", [1.0]).startswith("unknown corruption; valid: gaussian_noise")
    assert check_strengths("contrast", [0.5, 1.5]) == "strengths must be in [0.0, 1.0], got [1.5]"
    assert check_strengths("shot_noise", []) == "list at least one severity's strength"
    assert all(check_strengths(n, s) is None for n, s in CIFAR10_C.items())


def test_params_validation_knows_exactly_the_implemented_corruptions():
    assert set(CORRUPTION_RANGES) == set(CORRUPTIONS) == set(CIFAR10_C) == set(IDENTITY_STRENGTH)
