"""LeNet-5, SqueezeNet and ResNet-18 for 32×32 RGB input, behind one registry, plus own models built by an
import path that params.yaml declares.

Adaptations to 32×32 input, as in the study's setting:
- ResNet-18: 3×3 stride-1 stem without max-pool (the usual CIFAR stem); each
  ReLU is its own module so graph-mode quantization sees one call per module.
- SqueezeNet 1.0: 3×3 stride-1 stem instead of 7×7 stride-2, and BatchNorm after
  every convolution, which the original lacks and without which it trains
  unreliably from scratch at this size.

Every classifier takes images in [0, 1] and normalizes them itself, so pruning,
quantization and saliency all work in plain pixel space.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from compression_audit.core.errors import UserError


class Normalize(nn.Module):
    """Per-channel (x - mean) / std with the training split's statistics as buffers."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class LeNet5(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, kernel_size=5)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


def _conv_bn_relu(in_ch: int, out_ch: int, kernel_size: int, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, padding=padding, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(),
    )


class Fire(nn.Module):
    def __init__(self, in_ch: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = _conv_bn_relu(in_ch, squeeze, 1)
        self.expand1x1 = _conv_bn_relu(squeeze, expand1x1, 1)
        self.expand3x3 = _conv_bn_relu(squeeze, expand3x3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat([self.expand1x1(x), self.expand3x3(x)], dim=1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.0 (Iandola et al., 2016) for 32×32 input."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn_relu(3, 96, 3, padding=1),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 32 -> 16
            Fire(96, 16, 64, 64),
            Fire(128, 16, 64, 64),
            Fire(128, 32, 128, 128),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 16 -> 8
            Fire(256, 32, 128, 128),
            Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 8 -> 4
            Fire(512, 64, 256, 256),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Conv2d(512, num_classes, kernel_size=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu2 = nn.ReLU()
        if stride != 1 or in_ch != out_ch:
            self.downsample: nn.Module = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )
        else:
            self.downsample = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.downsample(x))


class ResNet18(nn.Module):
    """ResNet-18 (He et al., 2016) with the CIFAR stem."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64, 1))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128, 1))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256, 1))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512, 1))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


MODELS: dict[str, Callable[[int], nn.Module]] = {
    "lenet5": LeNet5,
    "squeezenet": SqueezeNet,
    "resnet18": ResNet18,
}


INPUT_SHAPE = (3, 32, 32)


@dataclass(frozen=True)
class ModelRegistry:
    """The networks a project can build: the built-ins (MODELS) and the own models its params.yaml declares,
    name -> ``own_models.<module>:<function>`` (``Params.registry``). It is passed to whatever builds or loads
    a model; nothing is registered globally. A model is only ever built from the user's own params, never from
    a name a checkpoint carries: a checkpoint holds a model name, and a name the registry lacks is refused."""

    declared: Mapping[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [*MODELS, *self.declared]

    def builder_of(self, name: str) -> str | None:
        """The import path an own model is built with; None for a built-in."""
        return self.declared.get(name)

    def build(self, name: str, num_classes: int) -> nn.Module:
        """A freshly initialized network; unknown names fail listing the valid ones."""
        if num_classes < 2:
            raise UserError(f"num_classes must be >= 2, got {num_classes}")
        if name in MODELS:
            return MODELS[name](num_classes)
        if name in self.declared:
            return build_own(name, self.declared[name], num_classes)
        raise UserError(f"unknown model {name!r}; valid: {', '.join(self.names())} (own models: models.<name>.builder)")


BUILTIN = ModelRegistry()  # the built-in networks only: what a caller without params.yaml can build


def resolve_builder(path: str) -> Callable[[int], nn.Module]:
    """Import ``own_models.<module>:<function>`` from the working directory (the project root)."""
    module_name, _, function = path.partition(":")
    added = os.getcwd() not in sys.path
    if added:  # only for this import: the project root must not shadow anything else afterwards
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raises while it is imported
        raise UserError(f"builder {path!r}: cannot import {module_name!r} ({type(exc).__name__}: {exc}); "
                        "put the module in the project's own_models/ folder and run from the project root") from exc
    finally:
        if added:
            sys.path.remove(os.getcwd())
    builder = getattr(module, function, None)
    if not callable(builder):
        raise UserError(f"builder {path!r}: {module_name} has no function {function!r}")
    return builder


def build_own(name: str, path: str, num_classes: int) -> nn.Module:
    """An own model, checked: a torch module that maps one 3x32x32 image to ``num_classes`` logits."""
    try:
        net = resolve_builder(path)(num_classes)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"models.{name}.builder {path!r} failed when called with num_classes={num_classes} "
                        f"({type(exc).__name__}: {exc})") from exc
    if not isinstance(net, nn.Module):
        raise UserError(f"models.{name}.builder {path!r} returned {type(net).__name__}, not a torch.nn.Module")
    was_training = net.training
    try:
        with torch.no_grad():
            out = net.eval()(torch.zeros(1, *INPUT_SHAPE))
    except Exception as exc:
        raise UserError(f"models.{name}.builder {path!r}: the model fails on one {'x'.join(map(str, INPUT_SHAPE))} "
                        f"input ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    net.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, num_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(f"models.{name}.builder {path!r}: one {'x'.join(map(str, INPUT_SHAPE))} input gives {shape}, "
                        f"expected logits of shape (1, {num_classes}) for this dataset's {num_classes} classes")
    return net


def get_model(name: str, num_classes: int, registry: ModelRegistry = BUILTIN) -> nn.Module:
    """A freshly initialized network of ``registry``; unknown names fail listing the valid ones."""
    return registry.build(name, num_classes)


class Classifier(nn.Module):
    """A network behind its input normalization: maps [0, 1] images to logits."""

    def __init__(self, arch: str, num_classes: int, mean: Sequence[float], std: Sequence[float],
                 registry: ModelRegistry = BUILTIN) -> None:
        super().__init__()
        self.arch = arch
        self.builder = registry.builder_of(arch)
        self.num_classes = num_classes
        self.normalize = Normalize(mean, std)
        self.net = registry.build(arch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
