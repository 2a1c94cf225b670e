"""Robustness of a variant against the baseline on the same corrupted images.

Mean corruption error (mCE) here is the unnormalised mean top-1 error over every corruption and
severity, as CIFAR-10-C papers report it (ImageNet-C's normalisation by AlexNet's errors has no
counterpart for these models). Excess error is the variant's error minus the baseline's on the same
corrupted images, so the shift itself cancels and what remains is what compression added; the
noise floor is the same number for another seed's baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compression_audit.core.atomic import atomic_path
from compression_audit.core.errors import UserError


def save_corrupted_predictions(path: Path, predictions: np.ndarray, labels: np.ndarray, indices: np.ndarray,
                               kinds: dict[str, list[float]]) -> None:
    """(K, S, N) predicted classes of one model on a corrupted set, with what they are predictions of.

    No timing in it: the file is a pure function of model and images (the predict metrics carry the speed)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, predictions=predictions.astype(np.int16), labels=labels.astype(np.int64),
                     indices=indices.astype(np.int64), kinds=np.array(list(kinds)),
                     strengths=np.array([kinds[k] for k in kinds], dtype=np.float64))


def load_corrupted_predictions(path: Path) -> dict[str, np.ndarray]:
    if not Path(path).is_file():
        raise UserError(f"{path} is missing; run `dvc repro` so the predict stage makes it")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path} is damaged ({exc}); rerun the predict stage that makes it") from exc


def compare_corrupted(baseline: dict[str, np.ndarray], variant: dict[str, np.ndarray],
                      clean_baseline: np.ndarray, clean_variant: np.ndarray) -> dict:
    """Per corruption and severity, and averaged: accuracy of both, excess error and flip rate.

    ``clean_*`` are the two models' clean predictions on the same N test images.
    """
    for key in ("labels", "indices", "kinds", "strengths"):
        if not np.array_equal(baseline[key], variant[key]):
            raise UserError(f"the baseline's and the variant's corrupted predictions differ in {key}: they were "
                            "made from different corrupted sets; rerun `dvc repro`")
    labels = baseline["labels"]
    b, v = baseline["predictions"], variant["predictions"]
    acc_b = (b == labels).mean(axis=-1)  # (K, S)
    acc_v = (v == labels).mean(axis=-1)
    flips = (b != v).mean(axis=-1)
    per_kind = {
        str(name): {
            "strengths": [float(s) for s in baseline["strengths"][k]],
            "baseline_accuracy": [round(float(a), 6) for a in acc_b[k]],
            "accuracy": [round(float(a), 6) for a in acc_v[k]],
            "excess_error_pp": [round(100 * float(d), 4) for d in acc_b[k] - acc_v[k]],
            "flip_rate": [round(float(f), 6) for f in flips[k]],
        }
        for k, name in enumerate(baseline["kinds"])
    }
    clean_acc_b = float((clean_baseline == labels).mean())
    clean_acc_v = float((clean_variant == labels).mean())
    return {
        "n": int(len(labels)),
        "corruptions": len(per_kind),
        "severities": int(b.shape[1]),
        "clean_accuracy": round(clean_acc_v, 6),
        "clean_baseline_accuracy": round(clean_acc_b, 6),
        "clean_flip_rate": round(float((clean_baseline != clean_variant).mean()), 6),
        "mean_accuracy": round(float(acc_v.mean()), 6),
        "baseline_mean_accuracy": round(float(acc_b.mean()), 6),
        "mce_pct": round(100 * (1 - float(acc_v.mean())), 4),
        "baseline_mce_pct": round(100 * (1 - float(acc_b.mean())), 4),
        "excess_error_pp": round(100 * float((acc_b - acc_v).mean()), 4),
        "flip_rate": round(float(flips.mean()), 6),
        "per_kind": per_kind,
    }
