"""The real pipeline under real DVC: `dvc repro` on a tiny configuration in a temporary git repo,
then `dvc exp run -S` on a training parameter, which must rerun only the cells downstream of it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, make_tree

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def sh(cwd, *cmd):
    env = {k: v for k, v in os.environ.items() if k != "COMPRESSION_AUDIT_DATA_DIR"}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"  # the stages' `python` is this interpreter
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def ran(output):
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = root / "datasets"
    make_tree(data / "cifar10", "cifar10", n_train=8, n_test=2)
    make_tree(data / "gtsrb", "gtsrb", n_train=2, n_test=1, tracks=2)
    work = root / "project"
    work.mkdir()
    for item in ("dvc.yaml", "stages", "src", "pyproject.toml"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / item)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update({"source": "local", "local_dir": str(data), "val_fraction": 0.25})
    for ds in params["datasets"].values():
        ds["archive_sha256"] = None
    for hp in params["models"].values():
        hp.update({"epochs": 1, "batch_size": 16})
    params["train"].update({"eval_batch_size": 64, "device": "cpu"})
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(work, "git", "init", "-q")
    sh(work, "git", "config", "user.email", "ci@example.com")
    sh(work, "git", "config", "user.name", "ci")
    sh(work, str(BIN / "dvc"), "init", "-q")
    sh(work, "git", "add", "-A")
    sh(work, "git", "commit", "-qm", "tiny pipeline")
    first = sh(work, str(BIN / "dvc"), "repro")
    return work, first


def test_repro_runs_every_stage_and_writes_outputs(repo):
    work, output = repo
    expected = {"fetch@cifar10", "fetch@gtsrb"} | {
        f"train@{d}-{m}-{s}" for d in ("cifar10", "gtsrb") for m in ("lenet5", "squeezenet", "resnet18") for s in (0, 1)
    }
    assert ran(output) == expected
    meta = json.loads((work / "data/prepared/gtsrb/meta.json").read_text())
    assert meta["counts"] == {"train": 86, "val": 86, "test": 43}  # one of two tracks per class held out
    for d, classes in (("cifar10", 10), ("gtsrb", 43)):
        for m in ("lenet5", "squeezenet", "resnet18"):
            ckpt = torch.load(work / f"models/{d}-{m}/seed0.pt", weights_only=True)
            assert ckpt["arch"] == m and ckpt["num_classes"] == classes
            metrics = json.loads((work / f"reports/train/{d}-{m}-seed1.json").read_text())
            assert metrics["epochs"] == 1 and metrics["n_test"] == (20 if d == "cifar10" else 43)
            assert 0.0 <= metrics["test_acc"] <= 1.0
    assert not list(work.glob("models/*/*.resume.pt"))  # finished runs leave no resume state


def test_second_repro_does_nothing(repo):
    work, _ = repo
    out = sh(work, str(BIN / "dvc"), "repro")
    assert ran(out) == set()


def test_exp_run_reruns_only_downstream_cells(repo):
    work, _ = repo
    sh(work, "git", "add", "-A")
    sh(work, "git", "commit", "-qm", "first run")
    out = sh(work, str(BIN / "dvc"), "exp", "run", "-S", "models.lenet5.lr=0.02")
    assert ran(out) == {f"train@{d}-lenet5-{s}" for d in ("cifar10", "gtsrb") for s in (0, 1)}
    shown = sh(work, str(BIN / "dvc"), "exp", "show", "--no-pager", "--md")
    assert "models.lenet5.lr" in shown or "lr" in shown
