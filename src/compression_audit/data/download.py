"""Download CIFAR-10 and GTSRB with torchvision's dataset classes (official hosts, checksums verified)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compression_audit.core.errors import UserError
from compression_audit.core.progress import track
from compression_audit.data.datasets import DatasetSpec
from compression_audit.data.imagefolder import to_rgb32
from compression_audit.data.prepared import RawSplit


def _cifar10(root: Path) -> tuple[RawSplit, RawSplit]:
    from torchvision.datasets import CIFAR10

    splits = []
    for train in (True, False):
        ds = CIFAR10(str(root), train=train, download=True)
        labels = np.asarray(ds.targets, dtype=np.int64)
        splits.append(RawSplit(np.asarray(ds.data, dtype=np.uint8), labels, np.arange(len(labels)).astype(str)))
    return splits[0], splits[1]


def _gtsrb(root: Path, spec: DatasetSpec) -> tuple[RawSplit, RawSplit]:
    from PIL import Image
    from torchvision.datasets import GTSRB

    splits = []
    for split in ("train", "test"):
        ds = GTSRB(str(root), split=split, download=True)
        # torchvision keeps (path, label) in _samples; the path carries the track id we split by.
        samples = ds._samples
        images = []
        for path, _label in track(samples, total=len(samples), description=f"resize gtsrb/{split}"):
            with Image.open(path) as image:
                images.append(to_rgb32(image, resize=True, where=path))
        labels = np.array([label for _, label in samples], dtype=np.int64)
        if split == "train":
            groups = np.array([spec.group_of(p, f"{lab:02d}", i) for i, (p, lab) in enumerate(samples)])
        else:
            groups = np.arange(len(samples)).astype(str)
        splits.append(RawSplit(np.stack(images), labels, groups))
    return splits[0], splits[1]


def download(spec: DatasetSpec, root: Path) -> tuple[RawSplit, RawSplit]:
    """(train, test) of ``spec`` downloaded into ``root`` (kept there, so reruns do not download again)."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        if spec.name == "cifar10":
            return _cifar10(root)
        if spec.name == "gtsrb":
            return _gtsrb(root, spec)
    except (OSError, RuntimeError) as exc:
        raise UserError(
            f"downloading {spec.name} failed ({exc}); without internet, set data.source: local and "
            "data.local_dir (or COMPRESSION_AUDIT_DATA_DIR) to a folder holding an ImageFolder copy"
        ) from exc
    raise UserError(f"no download path for dataset {spec.name!r}")
