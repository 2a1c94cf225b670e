"""A small MobileNet-style network for 32x32 input: the README's own-model example.

Depthwise-separable blocks (Howard et al., 2017) with BatchNorm and ReLU as separate modules, so that
graph-mode quantization fuses conv + bn + relu as it does for the built-in models."""

from torch import nn


def _separable(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, stride=stride, padding=1, groups=in_ch, bias=False), nn.BatchNorm2d(in_ch), nn.ReLU(),
        nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(),
    )


def mobilenet_small(num_classes: int) -> nn.Module:
    """About 0.1 M parameters: 32x32 -> 16 -> 8 -> 4, then global average pooling."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        _separable(32, 64, 1),
        _separable(64, 128, 2),
        _separable(128, 128, 1),
        _separable(128, 256, 2),
        _separable(256, 256, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, num_classes),
    )
