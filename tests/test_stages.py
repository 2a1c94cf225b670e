"""The stage scripts as users run them: exit codes, messages, and no partial outputs on bad input."""

import json
import os
import subprocess
import sys

import yaml
from conftest import REPO, make_archive, make_tree


def run_stage(script, *args, env=None, cwd=REPO):
    full_env = {k: v for k, v in os.environ.items() if k != "COMPRESSION_AUDIT_DATA_DIR"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(REPO / "stages" / script), *map(str, args)],
                          capture_output=True, text=True, env=full_env, cwd=cwd)


def local_params(tmp_path, local_dir, **data):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"].update({"source": "local", "local_dir": str(local_dir), "val_fraction": 0.25, **data})
    raw["datasets"]["cifar10"]["archive_sha256"] = None
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def fetch(tmp_path, params, env=None):
    out, report = tmp_path / "out" / "cifar10", tmp_path / "out" / "cifar10.json"
    result = run_stage("fetch.py", "--dataset", "cifar10", "--out", out, "--report", report, "--raw-dir", tmp_path / "raw",
                       "--params", params, env=env)
    return result, out, report


def test_fetch_from_archive_writes_prepared_data(tmp_path):
    src = tmp_path / "src"
    make_tree(src / "tree", "cifar10", n_train=4, n_test=1)
    make_archive(src / "tree", src / "cifar10.tar.gz")
    result, out, report = fetch(tmp_path, local_params(tmp_path, src))
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"] == {"train": 30, "val": 10, "test": 10}
    assert json.loads(report.read_text())["source"].endswith("cifar10.tar.gz")


def test_environment_variable_overrides_source(tmp_path):
    make_tree(tmp_path / "elsewhere" / "cifar10", "cifar10", n_train=4, n_test=1)
    params = local_params(tmp_path, tmp_path / "nowhere")
    result, out, _ = fetch(tmp_path, params, env={"COMPRESSION_AUDIT_DATA_DIR": str(tmp_path / "elsewhere")})
    assert result.returncode == 0, result.stderr
    assert (out / "meta.json").is_file()


def test_invalid_prune_setting_fails_before_loading_any_model(tmp_path):
    params = local_params(tmp_path, tmp_path)
    params.write_text(params.read_text().replace("amount: auto", "amount: 1.5"))
    out = tmp_path / "pruned.pt"
    result = run_stage("prune.py", "--dataset", "cifar10", "--model", "lenet5", "--baseline", tmp_path / "missing.pt",
                       "--data", tmp_path / "missing", "--out", out, "--metrics", tmp_path / "m.json",
                       "--layers", tmp_path / "l.json", "--search", tmp_path / "s.csv", "--params", params)
    assert result.returncode == 2
    assert "prune.amount: must be a fraction in [0, 1) or 'auto'" in result.stderr  # not the missing checkpoint
    assert not out.exists()


