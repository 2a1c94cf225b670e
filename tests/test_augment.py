import torch
import torch.nn.functional as F

from compression_audit.augment import augmented_batch, to_float_nchw


def _images(n=6, h=8, w=8):
    return torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_identity_without_augmentation():
    images = _images()
    idx = torch.tensor([4, 1, 1])
    out = augmented_batch(images, idx, padding=0, hflip=False, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, to_float_nchw(images[idx]))
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_crop_and_flip_match_reflect_pad_reference():
    images = _images()
    idx = torch.arange(6)
    pad = 3
    gen = torch.Generator().manual_seed(7)
    out = augmented_batch(images, idx, padding=pad, hflip=True, generator=gen)
    # Redraw the same random numbers in the same order to build the reference by hand.
    ref_gen = torch.Generator().manual_seed(7)
    flip = torch.rand(6, 1, generator=ref_gen) < 0.5
    dy = torch.randint(-pad, pad + 1, (6, 1), generator=ref_gen)
    dx = torch.randint(-pad, pad + 1, (6, 1), generator=ref_gen)
    padded = F.pad(to_float_nchw(images), (pad, pad, pad, pad), mode="reflect")
    for i in range(6):
        y0, x0 = pad + int(dy[i]), pad + int(dx[i])
        crop = padded[i, :, y0 : y0 + 8, x0 : x0 + 8]
        if flip[i]:
            crop = crop.flip(-1)
        assert torch.equal(out[i], crop), i
