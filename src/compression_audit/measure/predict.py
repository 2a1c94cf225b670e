"""The predict stage's work: one saved model of one cell -> per-sample predictions on the full test split
(Parquet) and on every corrupted copy of its test subset (npz), its own accuracy and calibration (before and after temperature scaling fitted on the validation split), the data DVC plots as a confusion matrix and a reliability
curve, and evaluation throughput next to the model's raw inference throughput measured in the same run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compression_audit.core.atomic import write_csv, write_json
from compression_audit.core.config import Params
from compression_audit.core.environment import environment, results_only
from compression_audit.core.errors import UserError
from compression_audit.core.progress import log
from compression_audit.data.corrupt import load_corrupted
from compression_audit.data.prepared import load_prepared
from compression_audit.measure.calibration import ece_at, fit_temperature, no_optimum
from compression_audit.measure.inference import load_model_file, predict, raw_images_per_second
from compression_audit.measure.metrics import Predictions, brier_score, expected_calibration_error, reliability
from compression_audit.measure.predictions import write_predictions
from compression_audit.measure.robustness import save_corrupted_predictions


def predict_cell(params: Params, dataset: str, arch: str, variant: str, model_path: Path, data_dir: Path,
                 out: Path, metrics: Path, confusion: Path, reliability_csv: Path, corrupted_dir: Path | None = None,
                 corrupted_out: Path | None = None, raw_speed: bool = True) -> dict:
    """``corrupted_dir`` and ``corrupted_out`` together, or neither (clean test images only).

    ``raw_speed=False`` skips the timed raw-inference run (``speed.seconds``) that evaluation throughput is
    compared with: a population member's predictions are only voted on, never timed.
    """
    params.dataset(dataset)
    params.model(arch)
    valid = (params.baseline, *params.comparable_variants())
    if variant not in valid:
        raise UserError(f"variant {variant!r} is not a model this pipeline makes; valid: {', '.join(valid)}")
    if (corrupted_dir is None) != (corrupted_out is None):
        raise UserError("--corrupted and --corrupted-out go together: give both to predict the corrupted images, "
                        "or neither")
    data = load_prepared(data_dir)
    images, labels = data.images["test"], data.labels["test"]
    corrupted = load_corrupted(corrupted_dir, labels, data_dir) if corrupted_dir is not None else None
    loaded = load_model_file(model_path, arch, data.num_classes, params.train.device, params.evaluate.precision,
                             params.train.threads, params.registry)
    log(f"predict {dataset}/{arch} {variant}: {len(labels)} test images, {loaded.path_name}")
    logits, seconds = predict(loaded, images, params.train.eval_batch_size)
    raw = raw_images_per_second(loaded, params.train.eval_batch_size, params.speed.seconds) if raw_speed else None
    # temperature scaling: fitted on the validation split, applied to the test logits (the same model, loaded once)
    val_logits, _ = predict(loaded, data.images["val"], params.train.eval_batch_size)
    temperature = fit_temperature(val_logits, data.labels["val"])
    unreliable = no_optimum(val_logits, data.labels["val"], temperature)
    if unreliable:
        log(f"warning: the validation split does not pin down the temperature of {variant} (T = {temperature:.3g} is "
            "no minimum of its NLL, e.g. every image right), so its scaled ECE is not meaningful")
    timing_corrupted = {}
    if corrupted is not None:
        # every corrupted image in one pass: the same fastest path (int8 kernels for quantized variants)
        flat = corrupted.images.reshape(-1, *corrupted.images.shape[3:])
        corrupted_logits, corrupted_seconds = predict(loaded, flat, params.train.eval_batch_size)
        corrupted_rate = len(flat) / corrupted_seconds if corrupted_seconds > 0 else float("nan")
        save_corrupted_predictions(corrupted_out, corrupted_logits.argmax(1).reshape(corrupted.images.shape[:3]),
                                   corrupted.labels, corrupted.indices, corrupted.kinds)
        timing_corrupted = {"corrupted_images": int(len(flat)), "corrupted_images_per_s": round(corrupted_rate, 1)}
        log(f"{len(flat)} corrupted images at {corrupted_rate:.0f} images/s -> {corrupted_out}")
    preds = Predictions(labels=labels.astype(np.int64), logits=logits)
    conf, correct = preds.confidence, preds.correct
    eval_rate = len(labels) / seconds if seconds > 0 else float("nan")
    summary = {
        "n": int(len(labels)),
        "accuracy": round(float(correct.mean()), 6),
        "ece": round(expected_calibration_error(conf, correct), 6),
        "brier": round(brier_score(preds.probs, preds.labels), 6),
        "mean_confidence": round(float(conf.mean()), 6),
        "temperature": round(temperature, 6),
        "temperature_no_optimum": unreliable,
        "ece_scaled": round(ece_at(logits, preds.labels, temperature), 6),
        "ece_val": round(ece_at(val_logits, data.labels["val"]), 6),
        "ece_val_scaled": round(ece_at(val_logits, data.labels["val"], temperature), 6),
        "inference": loaded.path_name,
        "batch_size": params.train.eval_batch_size,
        "env": environment(loaded.runtime.describe()),
        "timing": {"eval_images_per_s": round(eval_rate, 1), **timing_corrupted,
                   **({} if raw is None else {"raw_images_per_s": round(raw, 1), "eval_vs_raw": round(eval_rate / raw, 3)})},
    }
    info = {"dataset": dataset, "model": arch, "variant": variant, "source": str(model_path),
            **results_only(summary)}
    write_predictions(out, variant, preds, data.class_names, info)
    names = data.class_names
    write_csv(confusion, [{"actual": names[a], "predicted": names[p]} for a, p in zip(labels, preds.prediction)],
              ["actual", "predicted"])
    write_csv(reliability_csv, [
        {"confidence": round(r["confidence"], 6), "accuracy": round(r["accuracy"], 6), "count": r["count"]}
        for r in reliability(conf, correct) if r["count"]
    ], ["confidence", "accuracy", "count"])
    write_json(metrics, summary)
    speed = f"{eval_rate:.0f} images/s evaluated" + ("" if raw is None else
                                                     f" vs {raw:.0f} raw ({summary['timing']['eval_vs_raw']:.2f})")
    log(f"{dataset}/{arch} {variant}: accuracy {summary['accuracy']:.4f}, ECE {summary['ece']:.4f} "
        f"({summary['ece_scaled']:.4f} at T = {temperature:.3f} fitted on validation); {speed} -> {out}")
    return summary
