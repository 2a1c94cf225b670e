"""Same params and seed, run twice on the CPU (in fresh processes with different hash seeds): every output is
identical -- metrics JSON outside its "timing" block, and model, prediction and saliency files byte for byte.
Another training seed gives another model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, make_tree

pytestmark = pytest.mark.e2e  # a dozen stage processes: with the other pipeline tests


def stage(script, hash_seed, cwd=REPO, **options):
    env = {k: v for k, v in os.environ.items() if k != "COMPRESSION_AUDIT_DATA_DIR"}
    env["PYTHONHASHSEED"] = str(hash_seed)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    result = subprocess.run([sys.executable, str(REPO / "stages" / script), *args], capture_output=True, text=True,
                            env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("determinism")
    make_tree(tmp / "src" / "cifar10", "cifar10", n_train=12, n_test=4)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"].update({"source": "local", "local_dir": str(tmp / "src"), "val_fraction": 0.25})
    raw["datasets"]["cifar10"]["archive_sha256"] = None
    raw["models"]["lenet5"].update({"epochs": 2, "batch_size": 16})
    raw["train"].update({"device": "cpu", "eval_batch_size": 64})
    raw["prune"].update({"amount": 0.5})
    raw["quantize"].update({"calibration_images": 32})
    raw["speed"].update({"batch_size": 8, "seconds": 0.05})
    raw["saliency"].update({"images": 40})
    raw["corruptions"].update({"images": 20})
    params = tmp / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    data = tmp / "prepared"
    stage("fetch.py", 0, dataset="cifar10", out=data, report=tmp / "fetch.json", raw_dir=tmp / "raw", params=params)
    return tmp, params, data


def pipeline(root: Path, params: Path, data: Path, hash_seed: int) -> None:
    # relative output paths, run from the workspace, as under DVC: outputs record the paths of their inputs
    root.mkdir()
    common = {"dataset": "cifar10", "model": "lenet5", "params": params, "cwd": root}
    m, r = Path("models"), Path("reports")
    stage("train.py", hash_seed, **common, seed=0, data=data, out=m / "seed0.pt", metrics=r / "train.json",
          curve=r / "curve.csv")
    stage("prune.py", hash_seed, **common, baseline=m / "seed0.pt", data=data, out=m / "pruned.pt",
          metrics=r / "prune.json", layers=r / "layers.json", search=r / "search.csv")
    stage("quantize.py", hash_seed, **common, variant="w8a8", source=m / "pruned.pt", data=data,
          out=m / "w8a8.pt", metrics=r / "quantize.json")
    stage("corrupt.py", hash_seed, dataset="cifar10", params=params, cwd=root, data=data, out=Path("corrupted"))
    for variant in ("seed0", "w8a8"):
        stage("predict.py", hash_seed, **common, variant=variant, source=m / f"{variant}.pt", data=data,
              out=r / f"{variant}.parquet", metrics=r / f"predict-{variant}.json",
              confusion=r / f"{variant}-confusion.csv", reliability=r / f"{variant}-reliability.csv",
              corrupted=Path("corrupted"), corrupted_out=r / f"{variant}-corrupted.npz")
    stage("evaluate.py", hash_seed, **common, variant="w8a8", baseline=r / "seed0.parquet",
          compared=r / "w8a8.parquet", details=r / "evaluate-details.json", metrics=r / "evaluate.json",
          per_class=r / "per-class.csv", baseline_corrupted=r / "seed0-corrupted.npz",
          compared_corrupted=r / "w8a8-corrupted.npz")
    stage("saliency_baseline.py", hash_seed, **common, source=m / "seed0.pt", predictions=r / "seed0.parquet",
          data=data, out=r / "seed0.npz", metrics=r / "saliency-seed0.json")
    stage("saliency.py", hash_seed, **common, variant="w8a8", source=m / "w8a8.pt", baseline_maps=r / "seed0.npz",
          baseline_predictions=r / "seed0.parquet", predictions=r / "w8a8.parquet", data=data,
          out=r / "w8a8.npz", samples=r / "w8a8-samples.parquet", details=r / "saliency-details.json",
          metrics=r / "saliency.json", figure=r / "w8a8.png")


def without_timing(path: Path) -> dict:
    data = json.loads(path.read_text())
    if path.name != "layers.json":  # per-layer sparsities beside prune.json, which has it
        assert "env" in data and "torch" in data["env"], f"{path.name} does not record the environment"
    data.pop("timing", None)
    return data


def test_same_seed_same_outputs_other_seed_other_model(setup):
    tmp, params, data = setup
    pipeline(tmp / "a", params, data, hash_seed=1)
    pipeline(tmp / "b", params, data, hash_seed=2)
    files = sorted(p.relative_to(tmp / "a") for p in (tmp / "a").rglob("*") if p.is_file())
    assert len(files) == 32  # 27 + the corrupted set (3 files) and its 2 prediction files
    for rel in files:
        a, b = tmp / "a" / rel, tmp / "b" / rel
        if rel.suffix == ".json":
            assert without_timing(a) == without_timing(b), rel
        elif rel.name == "curve.csv":  # the training curve's last two columns are wall-clock figures
            timing = ["train_images_per_s", "epoch_seconds"]
            assert pd.read_csv(a).drop(columns=timing).equals(pd.read_csv(b).drop(columns=timing))
        elif rel.suffix != ".png":  # matplotlib stamps no date, but font hinting is not ours to promise
            assert a.read_bytes() == b.read_bytes(), rel

    stage("train.py", 3, dataset="cifar10", model="lenet5", params=params, seed=1, data=data,
          out=tmp / "seed1.pt", metrics=tmp / "seed1.json", curve=tmp / "seed1.csv")
    w0 = torch.load(tmp / "a" / "models" / "seed0.pt", weights_only=True)["state_dict"]
    w1 = torch.load(tmp / "seed1.pt", weights_only=True)["state_dict"]
    assert w0.keys() == w1.keys()
    assert not any(torch.equal(w0[k], w1[k]) for k in w0 if k.endswith("weight"))
