"""predict and evaluate stages' work on small real models: files, known answers, clean refusals."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO
from test_quantization import trained_like

from compression_audit.compress.quantization import QuantSpec, calibrate_twin, convert_to_int8, save_quantized
from compression_audit.core.config import load_params
from compression_audit.core.errors import UserError
from compression_audit.data.corrupt import load_corrupted, make_corrupted
from compression_audit.data.datasets import DATASETS
from compression_audit.data.prepared import PreparedData, save_prepared
from compression_audit.measure.evaluate import evaluate_pair
from compression_audit.measure.metrics import Predictions
from compression_audit.measure.predict import predict_cell
from compression_audit.measure.predictions import read_predictions, write_predictions
from compression_audit.measure.robustness import load_corrupted_predictions
from compression_audit.models.checkpoint import save_checkpoint

NAMES = DATASETS["cifar10"].class_names


@pytest.fixture
def cell(tmp_path):
    rng = np.random.default_rng(0)
    images = {s: rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8) for s, n in (("train", 40), ("val", 64), ("test", 300))}
    labels = {s: rng.integers(0, 10, len(images[s])).astype(np.int64) for s in images}
    data = PreparedData("cifar10", NAMES, images, labels, (0.5,) * 3, (0.25,) * 3)
    save_prepared(tmp_path / "data", data, {})
    base = trained_like("lenet5", seed=0)
    save_checkpoint(tmp_path / "seed0.pt", base, NAMES, {})
    save_checkpoint(tmp_path / "seed1.pt", trained_like("lenet5", seed=1), NAMES, {})
    spec = QuantSpec(8, 8)
    twin = calibrate_twin(base, spec, torch.from_numpy(images["val"]), 32)
    int8 = convert_to_int8(twin, spec)
    save_quantized(tmp_path / "w8a8.pt", base, twin, int8, spec, NAMES, {})
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["train"]["device"] = "cpu"
    raw["speed"]["seconds"] = 0.05
    raw["evaluate"]["bootstrap_resamples"] = 200
    raw["corruptions"]["images"] = 60
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(tmp_path / "params.yaml")
    make_corrupted(params, "cifar10", tmp_path / "data", tmp_path / "corrupted")
    return tmp_path, params, data, base, int8


def run_predict(root, params, variant):
    out = root / "pred"
    return predict_cell(params, "cifar10", "lenet5", variant, root / f"{variant}.pt", root / "data",
                        out / f"{variant}.parquet", out / f"{variant}.json", out / f"{variant}-confusion.csv",
                        out / f"{variant}-reliability.csv", root / "corrupted", out / f"{variant}-corrupted.npz")


def run_evaluate(root, params, variant, out):
    pred = root / "pred"
    return evaluate_pair(params, "cifar10", "lenet5", variant, pred / "seed0.parquet", pred / f"{variant}.parquet",
                         out / f"{variant}-details.json", out / f"{variant}.json", out / f"{variant}-per-class.csv",
                         pred / "seed0-corrupted.npz", pred / f"{variant}-corrupted.npz")


def test_predictions_match_the_model_and_open_in_pandas(cell):
    root, params, data, base, int8 = cell
    summary = run_predict(root, params, "seed0")
    x = torch.from_numpy(data.images["test"]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        expected = base(x).argmax(1).numpy()
    df = pd.read_parquet(root / "pred" / "seed0.parquet")
    assert list(df.columns) == ["sample", "variant", "label", "prediction", "confidence", "p_true", "entropy", "probs", "logits"]
    assert len(df) == 300 and (df["prediction"].to_numpy() == expected).all()
    assert (df["label"].to_numpy() == data.labels["test"]).all()
    probs = np.stack(df["probs"].to_numpy())
    assert probs.shape == (300, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.allclose(df["p_true"], probs[np.arange(300), df["label"]], atol=1e-6)
    assert np.allclose(df["confidence"], probs.max(1), atol=1e-6)
    assert summary["accuracy"] == pytest.approx(float((expected == data.labels["test"]).mean()), abs=1e-6)
    confusion = pd.read_csv(root / "pred" / "seed0-confusion.csv")
    assert len(confusion) == 300 and set(confusion["actual"]) <= set(NAMES)
    assert summary["timing"]["eval_images_per_s"] > 0 and summary["timing"]["raw_images_per_s"] > 0



def test_population_member_skips_the_raw_speed_run(cell, monkeypatch):
    root, params, data, base, int8 = cell
    import compression_audit.measure.predict as predict_module

    def no_timing(*args, **kwargs):
        raise AssertionError("raw inference was timed")

    monkeypatch.setattr(predict_module, "raw_images_per_second", no_timing)
    out = root / "member"
    summary = predict_cell(params, "cifar10", "lenet5", "w8a8", root / "w8a8.pt", root / "data", out / "w8a8.parquet",
                           out / "w8a8.json", out / "w8a8-confusion.csv", out / "w8a8-reliability.csv", raw_speed=False)
    assert set(summary["timing"]) == {"eval_images_per_s"}
    x = torch.from_numpy(data.images["test"]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        expected = int8(x).argmax(1).numpy()
    preds, _ = read_predictions(out / "w8a8.parquet")
    assert (preds.prediction == expected).all()

def test_quantized_variant_runs_its_int8_kernels(cell):
    root, params, data, base, int8 = cell
    summary = run_predict(root, params, "w8a8")
    assert summary["inference"].startswith("int8 kernels")
    x = torch.from_numpy(data.images["test"]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        expected = int8(x).argmax(1).numpy()
    preds, meta = read_predictions(root / "pred" / "w8a8.parquet")
    assert (preds.prediction == expected).all()
    assert meta["variant"] == "w8a8" and meta["class_names"] == list(NAMES)
    # the corrupted images go through the same int8 kernels
    corrupted = load_corrupted(root / "corrupted", data.labels["test"], root / "data")
    saved = load_corrupted_predictions(root / "pred" / "w8a8-corrupted.npz")
    k, sev = list(saved["kinds"]).index("contrast"), 4  # contrast at severity 5
    xc = torch.from_numpy(corrupted.images[k, sev]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        assert (saved["predictions"][k, sev] == int8(xc).argmax(1).numpy()).all()
    assert saved["predictions"].shape == (7, 5, 60) and list(saved["kinds"]) == list(params.corruptions.kinds)
    assert (saved["labels"] == data.labels["test"][corrupted.indices]).all()
    assert summary["timing"]["corrupted_images"] == 7 * 5 * 60 and summary["timing"]["corrupted_images_per_s"] > 0


def test_evaluate_pair_writes_details_metrics_and_plot_data(cell):
    root, params, *_ = cell
    for v in ("seed0", "seed1"):
        run_predict(root, params, v)
    out = root / "eval"
    short = run_evaluate(root, params, "seed1", out)
    details = json.loads((out / "seed1-details.json").read_text())
    assert json.loads((out / "seed1.json").read_text()) == short
    assert set(short) == {"accuracy", "delta_accuracy_pp", "flip_rate", "negative_flip_rate", "delta_ece",
                          "max_class_delta_pp", "significant_classes", "mce_pct", "excess_error_pp", "env"}
    r = details["robustness"]
    base = load_corrupted_predictions(root / "pred" / "seed0-corrupted.npz")
    other = load_corrupted_predictions(root / "pred" / "seed1-corrupted.npz")
    acc_b = (base["predictions"] == base["labels"]).mean(-1)
    acc_v = (other["predictions"] == base["labels"]).mean(-1)
    assert r["n"] == 60 and r["corruptions"] == 7 and r["severities"] == 5
    assert r["mce_pct"] == pytest.approx(100 * (1 - acc_v.mean()), abs=1e-4) == short["mce_pct"]
    assert r["excess_error_pp"] == pytest.approx(100 * (acc_b - acc_v).mean(), abs=1e-4)
    assert r["per_kind"]["pixelate"]["accuracy"] == [round(float(a), 6) for a in acc_v[list(base["kinds"]).index("pixelate")]]
    assert r["flip_rate"] == pytest.approx(float((base["predictions"] != other["predictions"]).mean()), abs=1e-6)
    assert short["env"]["torch"] == torch.__version__
    assert details["role"].startswith("noise floor") and details["n"] == 300
    b, _ = read_predictions(root / "pred" / "seed0.parquet")
    c, _ = read_predictions(root / "pred" / "seed1.parquet")
    assert details["flips"] == int((b.prediction != c.prediction).sum())
    assert sum(map(sum, details["flip_matrix"])) == details["flips"]
    per_class = pd.read_csv(out / "seed1-per-class.csv")
    assert list(per_class["class"]) == list(NAMES)
    assert "NaN" not in (out / "seed1-details.json").read_text()


def test_model_against_a_copy_of_itself_is_exactly_zero(cell):
    root, params, *_ = cell
    shutil.copy(root / "seed0.pt", root / "seed1.pt")
    for v in ("seed0", "seed1"):
        run_predict(root, params, v)
    out = root / "eval"
    short = run_evaluate(root, params, "seed1", out)
    details = json.loads((out / "seed1-details.json").read_text())
    assert short["flip_rate"] == 0.0 and short["delta_accuracy_pp"] == 0.0 and details["mean_kl"] == 0.0
    r = details["robustness"]
    assert short["excess_error_pp"] == 0.0 and r["flip_rate"] == 0.0 and r["clean_flip_rate"] == 0.0
    assert all(e == 0.0 for k in r["per_kind"].values() for e in k["excess_error_pp"])
    assert r["mce_pct"] == r["baseline_mce_pct"] > 0


def test_unknown_variant_is_refused_before_any_work(cell):
    root, params, *_ = cell
    with pytest.raises(UserError, match="valid: seed0, seed1, pruned"):
        predict_cell(params, "cifar10", "lenet5", "w3a8", root / "seed0.pt", root / "data", root / "p.parquet",
                     root / "p.json", root / "c.csv", root / "r.csv", root / "corrupted", root / "p.npz")
    assert not any((root / n).exists() for n in ("p.parquet", "p.json", "c.csv", "r.csv"))


def test_wrong_architecture_is_refused(cell):
    root, params, *_ = cell
    with pytest.raises(UserError, match="holds a lenet5 model, but this stage expects resnet18"):
        predict_cell(params, "cifar10", "resnet18", "seed0", root / "seed0.pt", root / "data", root / "p.parquet",
                     root / "p.json", root / "c.csv", root / "r.csv", root / "corrupted", root / "p.npz")
    assert not (root / "p.parquet").exists()


def test_predictions_on_different_test_sets_are_refused(tmp_path, cell):
    root, params, *_ = cell
    a = Predictions(labels=np.array([0, 1, 2]), logits=np.zeros((3, 10), np.float32))
    b = Predictions(labels=np.array([0, 1, 1]), logits=np.zeros((3, 10), np.float32))
    write_predictions(tmp_path / "a.parquet", "seed0", a, NAMES, {})
    write_predictions(tmp_path / "b.parquet", "w8a8", b, NAMES, {})
    with pytest.raises(UserError, match="different test sets"):
        evaluate_pair(params, "cifar10", "lenet5", "w8a8", tmp_path / "a.parquet", tmp_path / "b.parquet",
                      tmp_path / "d.json", tmp_path / "m.json", tmp_path / "c.csv", tmp_path / "a.npz", tmp_path / "b.npz")
    assert not (tmp_path / "m.json").exists()


def test_evaluate_variants_are_validated_against_what_the_pipeline_makes(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["evaluate"]["variants"] = ["seed1", "w2a8"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(UserError, match=r"evaluate.variants\[1\]: 'w2a8' is not a model this pipeline makes; valid: seed1, pruned"):
        load_params(tmp_path / "params.yaml")


def test_a_corrupted_set_of_another_test_split_is_refused(cell, tmp_path):
    root, params, data, *_ = cell
    other = PreparedData("cifar10", NAMES, {**data.images}, {**data.labels, "test": (data.labels["test"] + 1) % 10},
                         data.mean, data.std)
    save_prepared(tmp_path / "other", other, {})
    with pytest.raises(UserError, match="was not made from .* test split; rerun the corrupt stage"):
        predict_cell(params, "cifar10", "lenet5", "seed0", root / "seed0.pt", tmp_path / "other", tmp_path / "p.parquet",
                     tmp_path / "p.json", tmp_path / "c.csv", tmp_path / "r.csv", root / "corrupted", tmp_path / "p.npz")
    assert not any((tmp_path / n).exists() for n in ("p.parquet", "p.json", "p.npz"))
