"""The one data format every stage after fetch reads.

A prepared dataset is a directory of plain ``.npy`` arrays (uint8 N×32×32×3 images,
int64 labels for train / val / test) plus ``meta.json`` with class names and the
per-channel mean and std of the training split. ``.npy`` is byte-deterministic, so
DVC sees an identical hash when fetch reruns on the same data, whatever the source,
and loads without pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compression_audit.core.atomic import atomic_dir
from compression_audit.core.errors import UserError
from compression_audit.data.datasets import IMAGE_SIZE, DatasetSpec
from compression_audit.data.splits import split_by_group

FORMAT = "compression-audit/prepared-v1"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class RawSplit:
    """Decoded images of one official split, before the validation carve-out."""

    images: np.ndarray  # (N, 32, 32, 3) uint8
    labels: np.ndarray  # (N,) int64
    groups: np.ndarray  # (N,) str: split unit (image index or GTSRB track)


@dataclass(frozen=True)
class PreparedData:
    name: str
    class_names: tuple[str, ...]
    images: dict[str, np.ndarray]  # split -> (N, 32, 32, 3) uint8
    labels: dict[str, np.ndarray]  # split -> (N,) int64
    mean: tuple[float, float, float]  # per-channel mean of train images in [0, 1]
    std: tuple[float, float, float]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 NHWC images, in [0, 1] units (float64 accumulation)."""
    pixels = images.reshape(-1, images.shape[-1])
    total = np.zeros(3)
    total_sq = np.zeros(3)
    for start in range(0, len(pixels), 1 << 22):  # chunks bound the float64 copy
        chunk = pixels[start : start + (1 << 22)].astype(np.float64) / 255.0
        total += chunk.sum(0)
        total_sq += (chunk**2).sum(0)
    n = len(pixels)
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0))
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std)


def prepare(spec: DatasetSpec, train: RawSplit, test: RawSplit, val_fraction: float, split_seed: int) -> PreparedData:
    train_idx, val_idx = split_by_group(train.labels, train.groups, val_fraction, split_seed)
    images = {"train": train.images[train_idx], "val": train.images[val_idx], "test": test.images}
    labels = {"train": train.labels[train_idx], "val": train.labels[val_idx], "test": test.labels}
    mean, std = channel_stats(images["train"])
    return PreparedData(spec.name, spec.class_names, images, labels, mean, std)


def save_prepared(path: str | Path, data: PreparedData, extra_meta: dict) -> dict:
    meta = {
        "format": FORMAT,
        "dataset": data.name,
        "class_names": list(data.class_names),
        "image_shape": [IMAGE_SIZE, IMAGE_SIZE, 3],
        "counts": {s: int(len(data.labels[s])) for s in SPLITS},
        "class_counts": {
            s: np.bincount(data.labels[s], minlength=data.num_classes).tolist() for s in SPLITS
        },
        "mean": list(data.mean),
        "std": list(data.std),
        **extra_meta,
    }
    with atomic_dir(path) as tmp:
        for split in SPLITS:
            np.save(tmp / f"{split}_images.npy", np.ascontiguousarray(data.images[split], dtype=np.uint8))
            np.save(tmp / f"{split}_labels.npy", np.ascontiguousarray(data.labels[split], dtype=np.int64))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _checked_labels(file: Path, split: str, y: np.ndarray, num_classes: int, dataset: object) -> np.ndarray:
    """The labels of one split as int64 class indices, or a UserError naming the split, the bad values and their
    count: a label outside the class list would index past the model's outputs, or train silently on a class
    that does not exist."""
    fix = f"rerun the fetch stage (`dvc repro -f fetch@{dataset}`) to prepare the data again"
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise UserError(f"{file}: the {split} labels are {y.dtype} values of shape {y.shape}, not integer class "
                        f"indices; {fix}")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        values = np.unique(y[bad])
        shown = ", ".join(map(str, values[:5].tolist())) + (", ..." if len(values) > 5 else "")
        raise UserError(f"{file}: {int(bad.sum())} {split} label(s) outside the {num_classes} classes of meta.json "
                        f"(values: {shown}); {fix}")
    return y.astype(np.int64, copy=False)


def load_prepared(path: str | Path) -> PreparedData:
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise UserError(f"prepared dataset {path} is missing (no meta.json); run `dvc repro` so the fetch stage makes it")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise UserError(f"{meta_path} has format {meta.get('format')!r}, expected {FORMAT!r}; rerun the fetch stage")
    names = meta.get("class_names")
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise UserError(f"{meta_path}: class_names must list at least two class names, got {names!r}; rerun the fetch stage")
    images, labels = {}, {}
    for split in SPLITS:
        try:
            x = np.load(path / f"{split}_images.npy", allow_pickle=False)
            y = np.load(path / f"{split}_labels.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UserError(f"prepared dataset {path} is incomplete or corrupt ({exc}); rerun the fetch stage") from exc
        y = _checked_labels(path / f"{split}_labels.npy", split, y, len(names), meta.get("dataset"))
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3) or len(x) != len(y):
            raise UserError(f"prepared {split} split in {path} has shape {x.shape} {x.dtype}; rerun the fetch stage")
        images[split], labels[split] = x, y
    return PreparedData(
        name=meta["dataset"],
        class_names=tuple(names),
        images=images,
        labels=labels,
        mean=tuple(meta["mean"]),
        std=tuple(meta["std"]),
    )
