import numpy as np
import torch
import torch.nn.functional as F

from compression_audit.data.augment import CropFlipSampler, to_float_nchw


def _images(n=6, h=8, w=8):
    return np.random.default_rng(0).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_identity_without_augmentation():
    images = _images()
    sampler = CropFlipSampler(images, padding=0, hflip=False, device=torch.device("cpu"))
    idx = torch.tensor([4, 1, 1])
    out = sampler.batch(idx, torch.Generator().manual_seed(0))
    assert torch.equal(out, to_float_nchw(torch.from_numpy(images)[idx]))
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_crop_and_flip_match_reflect_pad_reference():
    images = _images()
    pad = 3
    sampler = CropFlipSampler(images, padding=pad, hflip=True, device=torch.device("cpu"))
    idx = torch.tensor([5, 0, 2, 2, 3, 1, 4, 0])
    out = sampler.batch(idx, torch.Generator().manual_seed(7))
    # Redraw the same random numbers in the documented order to build the reference by hand.
    g = torch.Generator().manual_seed(7)
    flip = torch.rand(8, generator=g) < 0.5
    dy = torch.randint(0, 2 * pad + 1, (8,), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (8,), generator=g)
    assert flip.any() and not flip.all()
    x = to_float_nchw(torch.from_numpy(images))
    for k, i in enumerate(idx.tolist()):
        src = x[i].flip(-1) if flip[k] else x[i]  # a mirrored padded image equals the padded mirror
        padded = F.pad(src[None], (pad, pad, pad, pad), mode="reflect")[0]
        crop = padded[:, dy[k] : dy[k] + 8, dx[k] : dx[k] + 8]
        assert torch.equal(out[k], crop), k


def test_cutout_zeroes_a_clipped_square_at_the_drawn_centre():
    images = np.full((4, 8, 8, 3), 200, dtype=np.uint8)  # no pixel is 0 before cutout
    side = 4
    sampler = CropFlipSampler(images, padding=0, hflip=False, device=torch.device("cpu"), cutout=side)
    idx = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
    out = sampler.batch(idx, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    dy = torch.randint(0, 1, (12,), generator=g)
    dx = torch.randint(0, 1, (12,), generator=g)
    cy = torch.randint(0, 8, (12,), generator=g)
    cx = torch.randint(0, 8, (12,), generator=g)
    assert (cy < side // 2).any() or (cy > 8 - side // 2).any()  # the draw includes a square clipped by the border
    for k in range(12):
        expected = torch.full((3, 8, 8), 200 / 255.0)
        top, left = int(cy[k]) - side // 2, int(cx[k]) - side // 2
        expected[:, max(top, 0) : max(top + side, 0), max(left, 0) : max(left + side, 0)] = 0.0
        assert torch.equal(out[k], expected), k
    zeroed = (out == 0).all(1).sum(dim=(1, 2))
    assert zeroed.max() == side * side and zeroed.min() < side * side


def test_cutout_zero_draws_nothing_extra():
    images = _images()
    plain = CropFlipSampler(images, padding=2, hflip=True, device=torch.device("cpu"))
    with_zero = CropFlipSampler(images, padding=2, hflip=True, device=torch.device("cpu"), cutout=0)
    idx = torch.tensor([0, 3, 5])
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(plain.batch(idx, g1), with_zero.batch(idx, g2))
    assert torch.equal(torch.rand(1, generator=g1), torch.rand(1, generator=g2))  # same number of draws
