"""Shared test helpers: tiny synthetic ImageFolder trees with known pixels, and the pipeline on a tiny
configuration in a fresh git repository for the tests that run real DVC."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from compression_audit.data.datasets import DATASETS
from compression_audit.data.fetch import LOCAL_DIR_ENV

REPO = Path(__file__).resolve().parents[1]
# The benchmark suite's helpers (a project copy in a fresh git repository) live beside its scripts, outside the
# installed package; the end-to-end tests build their projects with the same code.
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_pipeline import PROJECT_FILES, interpreter_env, prepare  # noqa: E402

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")


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
    for item in PROJECT_FILES:
        src = REPO / item
        (work / item).parent.mkdir(parents=True, exist_ok=True)
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


def user_env() -> dict:
    """The environment of a user in a project: this interpreter's bin first on PATH, no data override."""
    env = interpreter_env()
    env.pop(LOCAL_DIR_ENV, None)
    return env


def sh(cwd, *cmd):
    """Run a command as a user would in ``cwd`` (see ``user_env``)."""
    # output goes to files, not pipes: a command that leaves daemons behind (`dvc queue start`'s workers inherit
    # its stdout) would otherwise keep the pipe open, and the call would wait for an EOF that never comes
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        result = subprocess.run(cmd, cwd=cwd, env=user_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{stdout}\n{stderr}"
    return stdout + stderr


def ran(output: str) -> set[str]:
    """Stages DVC ran (not restored from its run-cache, not skipped) according to its output."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def restored(output: str) -> set[str]:
    """Stages DVC restored from its run-cache instead of running them."""
    return {line.split("'")[1] for line in output.splitlines()
            if line.startswith("Stage '") and "is cached - skipping run" in line}


# images per class: CIFAR-10 20 test images in all, GTSRB 43 (one of two tracks per class held out for validation)
TINY_TREES = {"cifar10": dict(n_train=8, n_test=2), "gtsrb": dict(n_train=2, n_test=1, tracks=2)}


def tiny_project(root: Path, full: bool = False, datasets: tuple[str, ...] = ("cifar10", "gtsrb")) -> Path:
    """The pipeline (LeNet-5 only, one epoch, a few synthetic images per class of ``datasets``) committed in
    a fresh git + DVC repository at ``root/project``; nothing has run yet. ``full``: also a QAT variant and a
    seed population (seed 1's baseline compressed too, with w4a8 and pruned_w8a8: both compression paths)."""
    data = root / "datasets"
    for name in datasets:
        make_tree(data / name, name, **TINY_TREES[name])
    params = tiny_params(data, full)
    for section in ("datasets", "augment"):
        params[section] = {name: value for name, value in params[section].items() if name in datasets}
    return prepare(REPO, root / "project", params)


def tiny_params(local_dir: Path, full: bool = False) -> dict:
    """The repository's params for seconds-long stages: LeNet-5 only, one epoch, small batches (``full``: see
    ``tiny_project``)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update({"source": "local", "local_dir": str(local_dir), "val_fraction": 0.25})
    for ds in params["datasets"].values():
        ds["archive_sha256"] = None
    # LeNet only: every stage runs per model, and each run pays Python + torch start-up; the
    # SqueezeNet and ResNet-18 paths are covered by the unit tests. This keeps CI short.
    del params["models"]["squeezenet"]
    del params["models"]["resnet18"]
    for hp in params["models"].values():
        hp.update({"epochs": 1, "batch_size": 16})
    params["train"].update({"eval_batch_size": 64, "device": "cpu"})
    params["prune"].update({"amount": "auto", "grid_step": 0.25, "tolerance_pp": 100.0})
    params["quantize"].update({"calibration_images": 16})
    params["speed"].update({"batch_size": 8, "seconds": 0.05})
    params["corruptions"].update({"images": 24})
    # each variant costs a quantize, predict, evaluate and saliency stage per cell, and each population seed a
    # prune, a quantize per variant and a predict per population variant: only the full project runs those paths
    qat = ("w4a8_qat",) if full else ()
    for name in ("w8a8_qat", "w4a8_qat"):
        if name not in qat:
            del params["quantize"]["variants"][name]
            params["evaluate"]["variants"].remove(name)
    params["population"].update({"seeds": [1] if full else [], "variants": ["w4a8", "pruned_w8a8"]})
    return params


def plan(work, path: tuple, value) -> tuple[set[str], set[str], str]:
    """(stages DVC sees changed, stages downstream of them, `dvc status`) if params.yaml's ``path`` were ``value``:
    DVC's own change detection and graph, without running what a real run would only repeat at CI's expense."""
    text = (work / "params.yaml").read_text()  # the last experiment's, which the workspace holds
    params = yaml.safe_load(text)
    node = params
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        status = sh(work, DVC, "status")
    finally:
        (work / "params.yaml").write_text(text)
    changed = {line.rstrip(":") for line in status.splitlines() if line.endswith(":") and not line[0].isspace()}
    edges = re.findall(r'"([^"]+)" -> "([^"]+)"', sh(work, DVC, "dag", "--dot"))
    downstream, todo = set(), sorted(changed - {"validate"})  # validate's output never changes (constant content)
    while todo:
        node = todo.pop()
        for a, b in edges:
            if a == node and b not in downstream:
                downstream.add(b)
                todo.append(b)
    return changed, downstream, status
