"""Known answers for the pairwise metrics of DESIGN.md §6."""

import math

import numpy as np
import pytest
from scipy import stats

from compression_audit.measure.metrics import (Predictions, bootstrap_interval, brier_score, compare, confusion_matrix,
    expected_calibration_error, flip_matrix, flip_rates, headline, holm, mcnemar_exact, mean_kl, per_class_delta,
    reliability)


def logits_for(pred, num_classes, margin=5.0):
    """Logits whose argmax is ``pred``."""
    z = np.zeros((len(pred), num_classes), np.float32)
    z[np.arange(len(pred)), pred] = margin
    return z


def test_hand_built_flips():
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 1])
    pred_b = np.array([0, 0, 1, 2, 2, 1, 2, 1])  # right, right, right, wrong, right, wrong, right, right
    pred_c = np.array([0, 1, 1, 1, 0, 2, 2, 0])  # same, flip(neg), same, flip(pos), flip(neg), flip(pos), same, flip(neg)
    r = flip_rates(pred_b, pred_c, labels)
    assert r["flips"] == 5
    assert r["flip_rate"] == pytest.approx(5 / 8)
    assert r["negative_flip_rate"] == pytest.approx(3 / 8)
    assert r["positive_flip_rate"] == pytest.approx(2 / 8)
    m = flip_matrix(pred_b, pred_c, 3)
    assert m.sum() == 5 and np.trace(m) == 0
    assert m[0, 1] == 1 and m[2, 1] == 1 and m[2, 0] == 1 and m[1, 2] == 1 and m[1, 0] == 1


def test_flip_between_two_wrong_predictions_is_neither_negative_nor_positive():
    r = flip_rates(np.array([1]), np.array([2]), np.array([0]))
    assert (r["flip_rate"], r["negative_flip_rate"], r["positive_flip_rate"]) == (1.0, 0.0, 0.0)


def test_confusion_matrix_rows_are_true_classes():
    cm = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 2, 1, 1]), 3)
    assert cm.tolist() == [[1, 0, 1], [0, 1, 0], [0, 1, 0]]


def test_per_class_delta_known_values():
    # class 0: 10 samples, b gets 8 right, c gets 5 right -> -30 pp; class 1: 4 samples, both all right -> 0
    labels = np.array([0] * 10 + [1] * 4)
    ok_b = np.array([1] * 8 + [0] * 2 + [1] * 4, bool)
    ok_c = np.array([1] * 5 + [0] * 5 + [1] * 4, bool)
    rows = per_class_delta(labels, ok_b, ok_c, 2, resamples=2000, seed=0, alpha=0.05)
    assert rows[0]["delta_pp"] == pytest.approx(-30.0)
    assert rows[0]["recall_b"] == pytest.approx(0.8) and rows[0]["recall_c"] == pytest.approx(0.5)
    assert rows[0]["b_only_correct"] == 3 and rows[0]["c_only_correct"] == 0
    assert rows[0]["mcnemar_p"] == pytest.approx(0.25)  # 2 * 0.5**3
    assert rows[0]["ci_low_pp"] <= -30.0 <= rows[0]["ci_high_pp"]
    assert rows[1]["delta_pp"] == 0.0 and (rows[1]["ci_low_pp"], rows[1]["ci_high_pp"]) == (0.0, 0.0)
    assert rows[1]["mcnemar_p"] == 1.0


def test_mcnemar_exact_known_p_value():
    # 10 discordant pairs split 9 / 1: two-sided exact p = 2 * P(X <= 1 | Bin(10, 0.5)) = 22 / 1024
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == pytest.approx(1.0)


def test_holm_known_answer():
    # Sorted p 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06 (monotone), 0.06 (capped by the running max)
    adjusted = holm(np.array([0.03, 0.01, 0.04, 0.02]))
    assert adjusted == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm(np.array([0.5, 0.9])) == pytest.approx([1.0, 1.0])


def test_bootstrap_interval_covers_true_value_on_seeded_simulation():
    # Paired differences with a known mean of 0.1: a 95 % interval should cover it ~95 % of the time.
    rng = np.random.default_rng(123)
    covered = 0
    trials = 200
    for _ in range(trials):
        diff = rng.choice([-1.0, 0.0, 1.0], size=400, p=[0.15, 0.6, 0.25])  # mean 0.10
        lo, hi = bootstrap_interval(diff, 1000, rng)
        covered += lo <= 0.10 <= hi
    assert 0.90 <= covered / trials <= 0.99


def test_perfectly_calibrated_toy_case_has_zero_ece():
    # 10 samples at confidence 0.8 with 8 right, 10 at 0.6 with 6 right: accuracy equals confidence in each bin.
    probs = np.array([[0.8, 0.2]] * 10 + [[0.6, 0.4]] * 10)
    labels = np.array([0] * 8 + [1] * 2 + [0] * 6 + [1] * 4)
    conf, correct = probs.max(1), probs.argmax(1) == labels
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0, abs=1e-12)


def test_ece_known_value_and_bins():
    conf = np.array([1.0, 1.0, 0.5, 0.5])
    correct = np.array([True, False, True, True])
    # bin (14/15, 1]: conf 1.0, acc 0.5 -> gap 0.5; bin (7/15, 8/15]: conf 0.5, acc 1 -> gap 0.5
    assert expected_calibration_error(conf, correct) == pytest.approx(0.5)
    rows = reliability(conf, correct)
    assert len(rows) == 15 and sum(r["count"] for r in rows) == 4
    assert rows[14]["count"] == 2 and rows[7]["count"] == 2


def test_brier_known_value():
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert brier_score(probs, np.array([0, 0])) == pytest.approx((0.0 + 0.5) / 2)


def test_kl_known_value():
    p = np.log(np.array([[0.5, 0.5]]))
    q = np.log(np.array([[0.25, 0.75]]))
    assert mean_kl(p, q) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75))


def test_model_compared_with_itself_changes_nothing():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 300)
    preds = Predictions(labels=labels, logits=rng.normal(size=(300, 5)).astype(np.float32))
    r = compare(preds, preds, resamples=200, seed=0, alpha=0.05)
    assert r["flips"] == 0 and r["flip_rate"] == 0.0 and r["negative_flip_rate"] == 0.0
    assert r["mean_kl"] == 0.0
    assert r["delta_accuracy_pp"] == 0.0 and r["delta_ece"] == 0.0 and r["delta_brier"] == 0.0
    assert all(row["delta_pp"] == 0.0 and not row["significant"] for row in r["per_class"])
    assert np.array(r["confusion_delta"]).any() == False  # noqa: E712
    assert r["confidence_shift"]["flipped"]["n"] == 0 and r["confidence_shift"]["flipped"]["mean"] is None
    h = headline(r)
    assert h["flip_rate"] == 0.0 and h["significant_classes"] == 0


def test_compare_separates_stable_and_flipped_confidence_shift():
    labels = np.array([0, 1, 2, 0])
    b = Predictions(labels=labels, logits=logits_for(np.array([0, 1, 2, 0]), 3, margin=4.0))
    c_logits = logits_for(np.array([0, 1, 2, 1]), 3, margin=2.0)  # last sample flips, all lose confidence
    c = Predictions(labels=labels, logits=c_logits)
    r = compare(b, c, resamples=200, seed=0, alpha=0.05)
    conf_b = np.exp(4) / (np.exp(4) + 2)
    conf_c = np.exp(2) / (np.exp(2) + 2)
    assert r["flips"] == 1
    assert r["confidence_shift"]["stable"]["n"] == 3
    assert r["confidence_shift"]["stable"]["mean"] == pytest.approx(conf_c - conf_b)
    assert r["confidence_shift"]["flipped"]["mean"] == pytest.approx(conf_c - conf_b)
    assert r["delta_accuracy_pp"] == pytest.approx(-25.0)
    assert r["per_class"][0]["delta_pp"] == pytest.approx(-50.0)
    assert r["confusion_delta"][0] == [-1, 1, 0]


def test_compare_refuses_different_test_sets():
    a = Predictions(labels=np.array([0, 1]), logits=np.zeros((2, 2), np.float32))
    b = Predictions(labels=np.array([1, 1]), logits=np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="same test samples"):
        compare(a, b, resamples=100, seed=0, alpha=0.05)


def test_holm_matches_bonferroni_for_single_test():
    assert holm(np.array([0.03])) == pytest.approx([0.03])
    assert stats.binomtest(0, 3, 0.5).pvalue == pytest.approx(0.25)
