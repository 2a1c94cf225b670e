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


def _assert_clean_failure(result, out, report, message):
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("error: ")
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not report.exists()
    leftovers = list(out.parent.glob(".*tmp")) if out.parent.exists() else []
    assert not leftovers


def test_missing_directory(tmp_path):
    _assert_clean_failure(*fetch(tmp_path, local_params(tmp_path, tmp_path / "absent")), "no local copy of 'cifar10'")


def test_corrupt_archive(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "cifar10.tar.gz").write_bytes(b"\x1f\x8b\x08 definitely not gzip")
    _assert_clean_failure(*fetch(tmp_path, local_params(tmp_path, src)), "corrupt or truncated")


def test_wrong_checksum(tmp_path):
    src = tmp_path / "src"
    make_tree(src / "tree", "cifar10", n_train=2, n_test=1)
    make_archive(src / "tree", src / "cifar10.tar.gz")
    params = local_params(tmp_path, src)
    raw = yaml.safe_load(params.read_text())
    raw["datasets"]["cifar10"]["archive_sha256"] = "f" * 64
    params.write_text(yaml.safe_dump(raw))
    _assert_clean_failure(*fetch(tmp_path, params), "checksum mismatch")


def test_images_not_32x32_rgb(tmp_path):
    make_tree(tmp_path / "src" / "cifar10", "cifar10", n_train=2, n_test=1, size=40)
    _assert_clean_failure(*fetch(tmp_path, local_params(tmp_path, tmp_path / "src")), "expected 32x32 RGB")


def test_class_folders_not_matching(tmp_path):
    make_tree(tmp_path / "src" / "cifar10", "gtsrb", n_train=1, n_test=1)
    _assert_clean_failure(*fetch(tmp_path, local_params(tmp_path, tmp_path / "src")), "do not match cifar10")


def test_typo_in_params(tmp_path):
    params = local_params(tmp_path, tmp_path)
    params.write_text(params.read_text().replace("val_fraction", "val_fractoin"))
    _assert_clean_failure(*fetch(tmp_path, params), "data.val_fractoin: unknown key; did you mean 'val_fraction'")


def test_out_of_range_param(tmp_path):
    params = local_params(tmp_path, tmp_path, val_fraction=1.5)
    _assert_clean_failure(*fetch(tmp_path, params), "data.val_fraction: must be in (0, 0.5)")


def test_train_with_missing_upstream_output(tmp_path):
    out = tmp_path / "m.pt"
    result = run_stage("train.py", "--dataset", "cifar10", "--model", "lenet5", "--seed", 0,
                       "--data", tmp_path / "nothing", "--out", out, "--metrics", tmp_path / "m.json",
                       "--curve", tmp_path / "c.csv")
    assert result.returncode == 2 and "run `dvc repro` so the fetch stage makes it" in result.stderr
    assert not out.exists()


def test_train_unknown_model(tmp_path):
    result = run_stage("train.py", "--dataset", "cifar10", "--model", "vgg", "--seed", 0,
                       "--data", tmp_path, "--out", tmp_path / "m.pt", "--metrics", tmp_path / "m.json",
                       "--curve", tmp_path / "c.csv")
    assert result.returncode == 2 and "'vgg' is not in params.yaml's models; valid: lenet5, squeezenet, resnet18" in result.stderr


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


def test_quantize_unknown_variant(tmp_path):
    result = run_stage("quantize.py", "--dataset", "cifar10", "--model", "lenet5", "--variant", "w3a8",
                       "--source", tmp_path / "x.pt", "--data", tmp_path, "--out", tmp_path / "q.pt",
                       "--metrics", tmp_path / "m.json")
    assert result.returncode == 2 and "unknown quantization variant 'w3a8'; valid: w8a8, w4a8" in result.stderr
