"""Real `dvc repro` on a dataset and a model the pipeline has never seen: a 3-class ImageFolder of 48x48 images
in mixed modes with grouped file names, and a model built by an import path from the project's own_models/."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch
from bench_pipeline import prepare
from conftest import DVC, REPO, ran, sh, tiny_params, user_env
from test_own_data import make_shapes

pytestmark = pytest.mark.e2e

TINY_NET = '''"""A test's own model: two convolutions and a linear head."""
from torch import nn


def build(num_classes):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(16, num_classes),
    )
'''
GROUPS, PER_GROUP = 4, 3


def _decode(images: np.ndarray) -> set[tuple[int, int]]:
    """(class, group) of each flat image, from the colour make_shapes gave it."""
    px = images[:, 0, 0].astype(int)
    return {((r - 40) // 80, (g - 10) // 20) for r, g in px[:, :2]}


def test_own_dataset_and_own_model_through_dvc_repro(tmp_path):
    params = tiny_params(tmp_path / "unused")
    params["datasets"] = {"shapes": {"archive_sha256": None, "imagefolder": "data/own/shapes",
                                     "names_file": "data/own/shapes-names.txt", "group_pattern": r"^g(\d+)_"}}
    params["augment"] = {"shapes": {"hflip": False, "crop_padding": 2}}
    params["models"] = {"tinynet": {**params["models"]["lenet5"], "builder": "own_models.tiny_test:build"}}
    work = tmp_path / "project"
    prepare(REPO, work, params)
    # RGB, RGBA and palette images keep the flat colour that encodes (class, group) exactly
    make_shapes(work / "data/own/shapes", groups=GROUPS, per_group=PER_GROUP, modes=("RGB", "RGBA", "P"))
    (work / "data/own/shapes-names.txt").write_text("circle: Circle\nsquare: Square\ntriangle: Triangle\n")
    (work / "own_models/tiny_test.py").write_text(TINY_NET)
    sh(work, "git", "add", "-A")
    sh(work, "git", "commit", "-qm", "own data and model")

    # with bytecode caches written, as on a user's machine: own_models/__pycache__ must not change DVC's hashes
    env = {k: v for k, v in user_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run([DVC, "repro"], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    variants = ("-seed1", "-pruned", "-w8a8", "-w4a8", "-pruned_w8a8")
    expected = ({"validate", "fetch@shapes", "corrupt@shapes", "train@shapes-tinynet-0", "train@shapes-tinynet-1", "prune@shapes-tinynet",
                 "quantize@shapes-tinynet-w8a8", "quantize@shapes-tinynet-w4a8", "quantize_pruned@shapes-tinynet",
                 "predict_baseline@shapes-tinynet", "saliency_baseline@shapes-tinynet", "verdict@shapes-tinynet",
                 "population@shapes-tinynet", "report"}
                | {f"{s}@shapes-tinynet{v}" for s in ("predict", "evaluate", "saliency") for v in variants})
    assert ran(out) == expected

    prepared = work / "data/prepared/shapes"
    meta = json.loads((prepared / "meta.json").read_text())
    assert meta["class_names"] == ["Circle", "Square", "Triangle"] and meta["image_shape"] == [32, 32, 3]
    train, val = (_decode(np.load(prepared / f"{s}_images.npy")) for s in ("train", "val"))
    assert not train & val  # no group on both sides of the split
    assert train | val == {(c, g) for c in range(3) for g in range(GROUPS)}
    assert len(np.load(prepared / "val_images.npy")) % PER_GROUP == 0  # whole groups only

    ckpt = torch.load(work / "models/shapes-tinynet/seed0.pt", weights_only=True)
    assert ckpt["arch"] == "tinynet" and ckpt["builder"] == "own_models.tiny_test:build" and ckpt["num_classes"] == 3
    w4 = json.loads((work / "reports/quantize/shapes-tinynet-w4a8.json").read_text())
    assert w4["weight_bits"] == 4 and w4["max_weight_levels"] <= 16
    verdict = json.loads((work / "reports/verdict/shapes-tinynet-details.json").read_text())
    assert set(verdict["variants"]) == {"pruned", "w8a8", "w4a8", "pruned_w8a8"}
    page = (work / "reports/report/index.html").read_text()
    assert "shapes-tinynet" in page and "Triangle" in page
    metrics = json.loads((work / "reports/report/metrics.json").read_text())
    assert set(metrics) == {"shapes-tinynet", "env"}

    assert list((work / "own_models").glob("__pycache__/*.pyc"))  # the caches exist ...
    assert "Data and pipelines are up to date" in sh(work, DVC, "status")  # ... and change nothing for DVC
    # DVC tracks the builder's code: editing it makes training (and what follows) stale, nothing before it
    (work / "own_models/tiny_test.py").write_text(TINY_NET.replace("nn.Conv2d(3, 8,", "nn.Conv2d(3, 12,").replace(
        "nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),\n        nn.Conv2d(8,", "nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(2),\n        nn.Conv2d(12,"))
    status = sh(work, DVC, "status")
    assert "train@shapes-tinynet-0" in status and "fetch@shapes" not in status and "validate" not in status
