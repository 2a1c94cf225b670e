"""Shared test helpers: tiny synthetic ImageFolder trees with known pixels."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compression_audit.datasets import DATASETS

REPO = Path(__file__).resolve().parents[1]


def image_for(label: int, index: int, size: int = 32) -> np.ndarray:
    """A deterministic RGB image whose pixels encode (label, index)."""
    rng = np.random.default_rng(label * 1000 + index)
    return rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def make_tree(root: Path, dataset: str, n_train: int = 3, n_test: int = 2, tracks: int = 2,
              size: int = 32, mode: str = "RGB") -> dict[str, list[tuple[np.ndarray, int]]]:
    """Write ``<root>/<split>/<class>/<file>.png`` for a known dataset; return the expected (pixels, label)
    per split in ImageFolder order. GTSRB training files carry <ClassId>_<track>_<image> names."""
    spec = DATASETS[dataset]
    expected: dict[str, list] = {"train": [], "test": []}
    for split, count in (("train", n_train), ("test", n_test)):
        for label, folder in enumerate(spec.folders):
            d = root / split / folder
            d.mkdir(parents=True, exist_ok=True)
            names = []
            for i in range(count if split == "test" or spec.split_by == "image" else count * tracks):
                if split == "train" and spec.split_by == "track":
                    names.append(f"{label:05d}_{i // count:05d}_{i % count:05d}")
                else:
                    names.append(f"{label:03d}{i:05d}")
            for i, name in enumerate(sorted(names)):
                pixels = image_for(label, i + (0 if split == "train" else 500), size)
                img = Image.fromarray(pixels, "RGB")
                if mode != "RGB":
                    img = img.convert(mode)
                img.save(d / f"{name}.png")
                expected[split].append((pixels, label))
    return expected


def copy_project(work: Path) -> Path:
    """The pipeline's files (not params.yaml) in a fresh folder, for tests that run DVC on it."""
    work.mkdir(parents=True)
    for item in ("dvc.yaml", "stages", "src", "pyproject.toml"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / item)
    return work


def make_archive(tree: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(tree.iterdir()):
            tar.add(child, arcname=child.name)
    return archive


@pytest.fixture
def cifar_tree(tmp_path):
    root = tmp_path / "cifar10"
    expected = make_tree(root, "cifar10")
    return root, expected
