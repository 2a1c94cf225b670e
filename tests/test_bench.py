"""The benchmark suite's plumbing (not its speeds, which depend on the machine): which configuration the
pipeline timing runs, where its copy of the project lives, and that one short run of the suite measures
every area and writes a ratio for each."""

import json
import subprocess
import sys

import pytest
import yaml
from bench_pipeline import _absolute_data_dir, prepare, quick_params  # conftest puts benchmarks/ on sys.path
from conftest import REPO

from compression_audit.core.config import load_params
from compression_audit.core.errors import UserError


def test_quick_params_keep_everything_but_the_model_matrix(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    quick = quick_params(raw)
    assert list(quick["models"]) == ["lenet5"] and quick["models"]["lenet5"]["epochs"] == 5
    assert quick["models"]["lenet5"]["lr"] == raw["models"]["lenet5"]["lr"]
    assert {k: v for k, v in quick.items() if k != "models"} == {k: v for k, v in raw.items() if k != "models"}
    assert set(raw["models"]) == {"lenet5", "squeezenet", "resnet18"}  # the input is not modified
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(quick))
    load_params(tmp_path / "params.yaml")  # still valid params


def test_relative_data_dir_is_resolved_against_the_project(tmp_path):
    params = {"data": {"local_dir": "../shared/datasets"}}
    assert _absolute_data_dir(params, tmp_path / "proj")["data"]["local_dir"] == str(tmp_path / "shared/datasets")
    assert params["data"]["local_dir"] == "../shared/datasets"
    absolute = {"data": {"local_dir": "/data/sets"}}
    assert _absolute_data_dir(absolute, tmp_path)["data"]["local_dir"] == "/data/sets"


def test_prepare_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        prepare(REPO, tmp_path / "work", quick_params(yaml.safe_load((REPO / "params.yaml").read_text())))
    assert (tmp_path / "work" / "notes.txt").read_text() == "mine"


def test_suite_measures_every_area_in_one_run(tmp_path):
    out = tmp_path / "suite.json"
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["train"]["device"] = "cpu"  # tests stay on the CPU where a GPU is present
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    result = subprocess.run([sys.executable, str(REPO / "benchmarks/suite.py"), "--model", "lenet5", "--seconds", "0.2",
                             "--eval-images", "256", "--saliency-images", "32", "--pipeline", "none", "--out", str(out),
                             "--params", str(tmp_path / "params.yaml")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    areas = [r["area"] for r in data["rows"]]
    # train; evaluate for float, W8A8, W4A8; int8 for W8A8 and W4A8; saliency
    assert areas == ["train", "evaluate", "evaluate", "evaluate", "int8", "int8", "saliency"]
    assert all(r["ratio"] > 0 and r["value"] > 0 for r in data["rows"])
    assert data["env"]["torch"] and "pipeline" not in data
    assert "ratio" in result.stdout and "train stage vs bare loop" in result.stdout


def test_suite_rejects_an_unknown_pipeline_before_measuring(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "benchmarks/suite.py"), "--pipeline", "fast",
                             "--out", str(tmp_path / "s.json")], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "'fast' is not quick, default, none or a params file" in result.stderr
    assert not (tmp_path / "s.json").exists()


def test_bench_builds_an_own_model_from_the_params_registry(monkeypatch):
    """The suite times every model of params.yaml: an own model is built through the params' registry, not refused."""
    from bench import bare_loop_images_per_s

    from compression_audit.core.device import resolve_runtime
    from compression_audit.models.networks import ModelRegistry

    monkeypatch.chdir(REPO)  # builders are imported from the project root, as the stages run
    monkeypatch.setattr(sys, "path", list(sys.path))
    registry = ModelRegistry({"mobile": "own_models.mobilenet:mobilenet_small"})
    rate, steps = bare_loop_images_per_s("mobile", 10, 8, 0.01, resolve_runtime("cpu", "fp32"), registry)
    assert rate > 0 and steps >= 1
    with pytest.raises(UserError, match="unknown model 'mobile'"):  # the built-in registry alone refuses it
        bare_loop_images_per_s("mobile", 10, 8, 0.01, resolve_runtime("cpu", "fp32"))
