"""Statistics over a population of models: several seeds' baselines, and each compressed the same way.

Hooker et al. ("What do compressed deep neural networks forget?", 2019) compare populations instead of
single models: a class is affected when its recall, normalised by the model's accuracy, differs between
the compressed and the baseline population (Welch's t-test across seeds); an image is a
compression-identified exemplar (CIE) when the compressed population's modal prediction differs from the
baseline population's. Pure numpy/scipy: the stage work is in population.py.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from compression_audit.measure.metrics import accuracy, flip_rates, holm


def modal_prediction(predictions: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per image, the class most models of the population predict.

    ``predictions``: (models, images) class indices; ``probs``: (models, images, classes). A tie in votes
    (two seeds that disagree) goes to the tied class with the larger mean probability over the population,
    then to the lower class index: a rule that needs no extra model and does not favour either population.
    """
    m, n = predictions.shape
    k = probs.shape[2]
    votes = np.zeros((n, k))
    np.add.at(votes, (np.broadcast_to(np.arange(n), (m, n)), predictions), 1.0)
    # mean probabilities lie in [0, 1], so half of them cannot outweigh one vote: they only order equal counts
    return np.argmax(votes + 0.5 * probs.mean(axis=0), axis=1)


def normalised_recall(prediction: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Per class, recall divided by overall accuracy (NaN for a class with no test image): a class that loses
    only what the whole model loses stays at the same value, so the test asks what compression took from it
    beyond the overall drop."""
    correct = prediction == labels
    acc = correct.mean()
    count = np.bincount(labels, minlength=num_classes)
    hits = np.bincount(labels, weights=correct, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, hits / np.maximum(count, 1), np.nan) / acc


def welch_per_class(baseline: np.ndarray, compressed: np.ndarray, alpha: float) -> list[dict]:
    """Welch's t-test per class on normalised recall, (seeds, classes) per population, Holm-corrected.

    A class whose values have no spread in either population (e.g. every seed at recall 1) has no test:
    its p-value is None and it is never significant. With two seeds per population the test has little power.
    """
    k = baseline.shape[1]
    p = np.full(k, np.nan)
    t = np.full(k, np.nan)
    for c in range(k):
        b, x = baseline[:, c], compressed[:, c]
        if len(b) >= 2 and len(x) >= 2 and np.isfinite(b).all() and np.isfinite(x).all() \
                and (b.var(ddof=1) > 0 or x.var(ddof=1) > 0):
            res = stats.ttest_ind(x, b, equal_var=False)
            t[c], p[c] = float(res.statistic), float(res.pvalue)
    tested = np.isfinite(p)
    p_holm = np.full(k, np.nan)
    if tested.any():
        p_holm[tested] = holm(p[tested])
    rows = []
    for c in range(k):
        ok = bool(tested[c])
        rows.append({
            "class": c,
            "baseline_mean": float(np.nanmean(baseline[:, c])) if np.isfinite(baseline[:, c]).any() else None,
            "compressed_mean": float(np.nanmean(compressed[:, c])) if np.isfinite(compressed[:, c]).any() else None,
            "t": float(t[c]) if ok else None,
            "p": float(p[c]) if ok else None,
            "p_holm": float(p_holm[c]) if ok else None,
            "significant": bool(ok and p_holm[c] < alpha),
        })
    return rows


def member_change(pred_b: np.ndarray, pred_c: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """One seed's compressed model against that seed's own baseline: the numbers whose spread the report shows
    (flip rates from metrics.flip_rates, the very numbers the evaluate stage reports for the first seed)."""
    correct_b, correct_c = pred_b == labels, pred_c == labels
    count = np.bincount(labels, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_class = 100 * (np.bincount(labels, weights=correct_c, minlength=num_classes)
                             - np.bincount(labels, weights=correct_b, minlength=num_classes)) / count
    present = count > 0
    worst = int(np.flatnonzero(present)[np.argmax(np.abs(delta_class[present]))])
    acc_b, acc_c = accuracy(pred_b, labels), accuracy(pred_c, labels)
    return {
        "accuracy_b": acc_b,
        "accuracy_c": acc_c,
        "delta_accuracy_pp": 100 * (acc_c - acc_b),
        **flip_rates(pred_b, pred_c, labels),
        "largest_class": worst,
        "largest_class_delta_pp": float(delta_class[worst]),
    }


def spread(values: list[float]) -> dict:
    """Mean, sample standard deviation (None for one value), min and max over the seeds."""
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "sd": float(a.std(ddof=1)) if len(a) >= 2 else None,
            "min": float(a.min()), "max": float(a.max()), "n": int(len(a))}


def exemplars(labels: np.ndarray, base_pred: np.ndarray, base_probs: np.ndarray, comp_pred: np.ndarray,
              comp_probs: np.ndarray) -> dict:
    """Compression-identified exemplars of one variant: which images, and how the populations do on them.

    ``*_pred``: (seeds, images); ``*_probs``: (seeds, images, classes). Accuracies are means over the
    population's members (each member's accuracy on the images), as Hooker et al. report them.
    """
    modal_b, modal_c = modal_prediction(base_pred, base_probs), modal_prediction(comp_pred, comp_probs)
    cie = np.flatnonzero(modal_b != modal_c)
    base_correct, comp_correct = base_pred == labels, comp_pred == labels

    def acc_on(correct: np.ndarray, idx: np.ndarray) -> float | None:
        return float(correct[:, idx].mean()) if len(idx) else None

    rest = np.setdiff1d(np.arange(len(labels)), cie)
    # the gallery's order: images where the compressed population agrees most on its (new) answer first
    agreement = (comp_pred[:, cie] == modal_c[cie]).mean(axis=0) if len(cie) else np.zeros(0)
    order = cie[np.lexsort((cie, -agreement))] if len(cie) else cie
    return {
        "indices": order,
        "modal_baseline": modal_b[order],
        "modal_compressed": modal_c[order],
        "count": int(len(cie)),
        "fraction": float(len(cie) / len(labels)),
        "baseline_accuracy_overall": float(base_correct.mean()),
        "baseline_accuracy_on_cie": acc_on(base_correct, cie),
        "baseline_accuracy_off_cie": acc_on(base_correct, rest),
        "compressed_accuracy_on_cie": acc_on(comp_correct, cie),
    }
