"""The pairwise metrics of DESIGN.md §6, on per-sample predictions of two models.

``b`` is the baseline, ``c`` the compared model (a compressed variant, or another seed's
baseline for the noise floor); both were evaluated on the same test samples in the same
order. Functions take plain arrays, return plain numbers and never mutate their inputs.
Names follow §6: accuracy, per-class accuracy delta, flip rate, negative / positive flip
rate, flip matrix, confidence shift, ECE, Brier score, mean KL divergence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

ECE_BINS = 15  # DESIGN.md §6: 15 equal-width confidence bins
SHIFT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class Predictions:
    """One model's outputs on a test set: ``logits`` (N, K) float and ``labels`` (N,) int."""

    labels: np.ndarray
    logits: np.ndarray

    def __post_init__(self) -> None:
        if self.logits.ndim != 2 or self.labels.shape != (self.logits.shape[0],):
            raise ValueError(f"logits must be (N, K) and labels (N,), got {self.logits.shape} and {self.labels.shape}")

    @property
    def log_probs(self) -> np.ndarray:
        z = self.logits.astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    @property
    def probs(self) -> np.ndarray:
        return np.exp(self.log_probs)

    @property
    def prediction(self) -> np.ndarray:
        return self.logits.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(axis=1)

    @property
    def correct(self) -> np.ndarray:
        return self.prediction == self.labels

    @property
    def num_classes(self) -> int:
        return self.logits.shape[1]


def entropy(log_probs: np.ndarray) -> np.ndarray:
    """Predictive entropy per sample, in nats."""
    return -(np.exp(log_probs) * log_probs).sum(axis=1)


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(pred == labels)) if len(labels) else float("nan")


def confusion_matrix(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    return np.bincount(labels * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def flip_rates(pred_b: np.ndarray, pred_c: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Flip rate mean(ŷ_b ≠ ŷ_c); negative flips b right -> c wrong; positive flips b wrong -> c right."""
    b_ok, c_ok = pred_b == labels, pred_c == labels
    return {
        "flip_rate": float(np.mean(pred_b != pred_c)),
        "negative_flip_rate": float(np.mean(b_ok & ~c_ok)),
        "positive_flip_rate": float(np.mean(~b_ok & c_ok)),
        "flips": int(np.sum(pred_b != pred_c)),
    }


def flip_matrix(pred_b: np.ndarray, pred_c: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (ŷ_b row, ŷ_c column) over flipped samples; the diagonal is zero by construction."""
    flipped = pred_b != pred_c
    return confusion_matrix(pred_b[flipped], pred_c[flipped], num_classes)


def summarize_shift(shift: np.ndarray) -> dict[str, float | int | None]:
    """Mean, mean absolute value and quantiles of per-sample confidence shifts (None when empty)."""
    out: dict[str, float | int | None] = {"n": int(len(shift))}
    if len(shift) == 0:
        out.update({"mean": None, "mean_abs": None, **{f"q{int(q * 100):02d}": None for q in SHIFT_QUANTILES}})
        return out
    out["mean"] = float(np.mean(shift))
    out["mean_abs"] = float(np.mean(np.abs(shift)))
    for q, v in zip(SHIFT_QUANTILES, np.quantile(shift, SHIFT_QUANTILES)):
        out[f"q{int(q * 100):02d}"] = float(v)
    return out


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width confidence bin (lo, hi]: count, mean confidence, accuracy. Empty bins are kept with None."""
    # Bin i holds confidences in (i/bins, (i+1)/bins]; a confidence of exactly 0 goes to bin 0.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    rows = []
    for i in range(bins):
        sel = index == i
        n = int(sel.sum())
        rows.append({
            "bin": i, "lower": i / bins, "upper": (i + 1) / bins, "count": n,
            "confidence": float(confidence[sel].mean()) if n else None,
            "accuracy": float(correct[sel].mean()) if n else None,
        })
    return rows


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE = Σ_bins (n_bin / N) · |accuracy_bin − mean confidence_bin|."""
    n = len(confidence)
    return float(sum(r["count"] / n * abs(r["accuracy"] - r["confidence"]) for r in reliability(confidence, correct, bins) if r["count"]))


def brier_score(probs: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier score: mean over samples of Σ_k (p_k − 1[y = k])²."""
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels] = 1.0
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def mean_kl(log_p_b: np.ndarray, log_p_c: np.ndarray) -> float:
    """Mean over samples of KL(p_b ‖ p_c) = Σ_k p_b (log p_b − log p_c), in nats."""
    return float(np.mean(np.sum(np.exp(log_p_b) * (log_p_b - log_p_c), axis=1)))


def mcnemar_exact(b_only: int, c_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (b right / c wrong, b wrong / c right)."""
    n = b_only + c_only
    if n == 0:
        return 1.0
    return float(stats.binomtest(b_only, n, 0.5).pvalue)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order.

    scipy has no Holm correction (only Benjamini–Hochberg); this is its textbook form.
    """
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def bootstrap_interval(diff: np.ndarray, resamples: int, rng: np.random.Generator, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(diff) (paired per-sample differences)."""
    if len(diff) == 0:
        return float("nan"), float("nan")
    if np.all(diff == diff[0]):  # a constant sample has a degenerate (point) interval
        return float(diff[0]), float(diff[0])
    res = stats.bootstrap((diff,), np.mean, n_resamples=resamples, confidence_level=level,
                          method="percentile", rng=rng, vectorized=True)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def per_class_delta(labels: np.ndarray, correct_b: np.ndarray, correct_c: np.ndarray, num_classes: int,
                    resamples: int, seed: int, alpha: float) -> list[dict]:
    """Recall per class for b and c, Δ in pp with a 95 % bootstrap interval, exact McNemar p, Holm-adjusted p."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(num_classes):
        sel = labels == k
        b, c = correct_b[sel], correct_c[sel]
        diff = c.astype(float) - b.astype(float)
        lo, hi = bootstrap_interval(diff, resamples, rng)
        rows.append({
            "class": k, "n": int(sel.sum()),
            "recall_b": float(b.mean()) if sel.any() else None,
            "recall_c": float(c.mean()) if sel.any() else None,
            "delta_pp": 100 * float(diff.mean()) if sel.any() else None,
            "ci_low_pp": 100 * lo if sel.any() else None,
            "ci_high_pp": 100 * hi if sel.any() else None,
            "b_only_correct": int(np.sum(b & ~c)),
            "c_only_correct": int(np.sum(~b & c)),
            "mcnemar_p": mcnemar_exact(int(np.sum(b & ~c)), int(np.sum(~b & c))),
        })
    adjusted = holm(np.array([r["mcnemar_p"] for r in rows]))
    for r, p in zip(rows, adjusted):
        r["p_holm"] = float(p)
        r["significant"] = bool(p < alpha)
    return rows


def compare(b: Predictions, c: Predictions, resamples: int, seed: int, alpha: float) -> dict:
    """Every pairwise metric of §6 for models b and c on the same samples."""
    if not np.array_equal(b.labels, c.labels):
        raise ValueError("the two prediction sets are not on the same test samples (labels differ)")
    if b.num_classes != c.num_classes:
        raise ValueError(f"class counts differ: {b.num_classes} vs {c.num_classes}")
    k, labels = b.num_classes, b.labels
    pb, pc = b.prediction, c.prediction
    lpb, lpc = b.log_probs, c.log_probs
    conf_b, conf_c = np.exp(lpb).max(axis=1), np.exp(lpc).max(axis=1)
    ok_b, ok_c = pb == labels, pc == labels
    flipped = pb != pc
    shift = conf_c - conf_b
    ece_b, ece_c = expected_calibration_error(conf_b, ok_b), expected_calibration_error(conf_c, ok_c)
    brier_b, brier_c = brier_score(np.exp(lpb), labels), brier_score(np.exp(lpc), labels)
    cm_b, cm_c = confusion_matrix(labels, pb, k), confusion_matrix(labels, pc, k)
    classes = per_class_delta(labels, ok_b, ok_c, k, resamples, seed, alpha)
    acc_b, acc_c = accuracy(pb, labels), accuracy(pc, labels)
    return {
        "n": int(len(labels)),
        "accuracy_b": acc_b,
        "accuracy": acc_c,
        "delta_accuracy_pp": 100 * (acc_c - acc_b),
        **flip_rates(pb, pc, labels),
        "flip_matrix": flip_matrix(pb, pc, k).tolist(),
        "confidence_shift": {"all": summarize_shift(shift), "stable": summarize_shift(shift[~flipped]),
                             "flipped": summarize_shift(shift[flipped])},
        "ece_b": ece_b, "ece": ece_c, "delta_ece": ece_c - ece_b,
        "brier_b": brier_b, "brier": brier_c, "delta_brier": brier_c - brier_b,
        "mean_kl": mean_kl(lpb, lpc),
        "reliability_b": reliability(conf_b, ok_b),
        "reliability": reliability(conf_c, ok_c),
        "confusion_b": cm_b.tolist(),
        "confusion": cm_c.tolist(),
        "confusion_delta": (cm_c - cm_b).tolist(),
        "per_class": classes,
    }


def largest_class_change(per_class: list[dict]) -> dict | None:
    """The class with the largest |Δ recall| (ties: the lower class index)."""
    rows = [r for r in per_class if r["delta_pp"] is not None]
    if not rows:
        return None
    return max(rows, key=lambda r: (abs(r["delta_pp"]), -r["class"]))


def headline(details: dict) -> dict:
    """The handful of numbers per comparison that `dvc metrics` and `dvc exp show` display."""
    worst = largest_class_change(details["per_class"])
    return {
        "accuracy": round(details["accuracy"], 6),
        "delta_accuracy_pp": round(details["delta_accuracy_pp"], 4),
        "flip_rate": round(details["flip_rate"], 6),
        "negative_flip_rate": round(details["negative_flip_rate"], 6),
        "delta_ece": round(details["delta_ece"], 6),
        "max_class_delta_pp": round(worst["delta_pp"], 4) if worst else None,
        "significant_classes": sum(r["significant"] for r in details["per_class"]),
    }
