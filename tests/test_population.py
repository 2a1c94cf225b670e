"""Seed populations: the modal rule, compression-identified exemplars, normalised recall and the Welch test,
on hand-made populations whose answers are worked out by hand."""

import numpy as np
import pytest
from scipy import stats

from compression_audit.measure.population_stats import (exemplars, member_change, modal_prediction, normalised_recall,
    spread, welch_per_class)


def onehot_probs(pred, k, p=0.9):
    """(models, images, k) probabilities with ``p`` on each predicted class and the rest spread evenly."""
    probs = np.full((*pred.shape, k), (1 - p) / (k - 1))
    np.put_along_axis(probs, pred[..., None], p, axis=-1)
    return probs


def test_modal_prediction_is_the_majority_vote():
    pred = np.array([[0, 1, 2, 0], [0, 2, 2, 1], [1, 2, 0, 2]])
    probs = onehot_probs(pred, 3)
    assert modal_prediction(pred, probs)[:3].tolist() == [0, 2, 2]


def test_modal_ties_go_to_the_larger_mean_probability_then_the_lower_class():
    # two seeds that disagree: 3 vs 5. The seed voting 5 is surer, so the mean probability favours 5
    pred = np.array([[3], [5]])
    probs = np.zeros((2, 1, 6))
    probs[0, 0, [3, 5]] = [0.6, 0.4]
    probs[1, 0, [3, 5]] = [0.1, 0.9]  # mean: class 3 0.35, class 5 0.65
    assert modal_prediction(pred, probs).tolist() == [5]
    probs[1, 0, [3, 5]] = [0.4, 0.6]  # mean 0.5 each: the lower index
    assert modal_prediction(pred, probs).tolist() == [3]
    # three-way tie among 3 models: the mean probability decides, whatever order the models come in
    pred = np.array([[0], [1], [2]])
    probs = np.array([[[0.5, 0.2, 0.3]], [[0.1, 0.45, 0.45]], [[0.1, 0.3, 0.6]]])  # means 0.233, 0.317, 0.45
    assert modal_prediction(pred, probs).tolist() == [2]
    assert modal_prediction(pred[::-1], probs[::-1]).tolist() == [2]


def test_probabilities_never_outvote_a_majority():
    # two models say 0 with little confidence, one says 1 with certainty: 0 has more votes
    pred = np.array([[0], [0], [1]])
    probs = np.array([[[0.34, 0.33, 0.33]], [[0.34, 0.33, 0.33]], [[0.0, 1.0, 0.0]]])
    assert modal_prediction(pred, probs).tolist() == [0]


def test_exemplars_are_images_whose_modal_prediction_moves():
    labels = np.array([0, 1, 2, 0, 1])
    base = np.array([[0, 1, 2, 0, 1],
                     [0, 1, 2, 1, 1],
                     [0, 1, 1, 0, 2]])  # modal: 0 1 2 0 1
    comp = np.array([[0, 2, 2, 1, 1],
                     [0, 2, 1, 1, 1],
                     [0, 1, 1, 0, 1]])  # modal: 0 2 1 1 1 -> images 1, 2, 3 moved
    out = exemplars(labels, base, onehot_probs(base, 3), comp, onehot_probs(comp, 3))
    assert out["count"] == 3 and out["fraction"] == pytest.approx(0.6)
    assert sorted(out["indices"].tolist()) == [1, 2, 3]
    # baseline members on images 1-3: [1,1,1], [1,1,0], [1,0,1] right -> 7 of 9
    assert out["baseline_accuracy_on_cie"] == pytest.approx(7 / 9)
    assert out["baseline_accuracy_off_cie"] == pytest.approx(5 / 6)  # images 0 and 4: [1,1],[1,1],[1,0]
    assert out["baseline_accuracy_overall"] == pytest.approx(12 / 15)
    assert out["compressed_accuracy_on_cie"] == pytest.approx(3 / 9)  # [0,1,0], [0,0,0], [0,0,1]
    # gallery order: image 1 and 3 have 2 of 3 compressed votes on the modal, image 2 also 2 of 3 -> by index
    assert out["indices"].tolist() == [1, 2, 3]
    assert out["modal_baseline"].tolist() == [1, 2, 0] and out["modal_compressed"].tolist() == [2, 1, 1]


def test_gallery_order_puts_unanimous_exemplars_first():
    labels = np.array([0, 0, 0])
    base = np.zeros((3, 3), dtype=int)
    comp = np.array([[1, 1, 0], [1, 1, 0], [0, 1, 0]])  # image 1 unanimous, image 0 two of three
    out = exemplars(labels, base, onehot_probs(base, 2), comp, onehot_probs(comp, 2))
    assert out["indices"].tolist() == [1, 0]


def test_a_population_against_itself_has_no_exemplars():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 10, (3, 200))
    labels = rng.integers(0, 10, 200)
    probs = onehot_probs(pred, 10)
    out = exemplars(labels, pred, probs, pred, probs)
    assert out["count"] == 0 and out["baseline_accuracy_on_cie"] is None and len(out["indices"]) == 0


def test_normalised_recall():
    labels = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])  # accuracy 0.75; recall 0.5 and 1.0; class 2 has no image
    out = normalised_recall(pred, labels, 3)
    assert out[:2] == pytest.approx([0.5 / 0.75, 1.0 / 0.75])
    assert np.isnan(out[2])


def test_welch_matches_scipy_and_skips_classes_without_spread():
    base = np.array([[1.0, 0.9, 1.0], [1.0, 0.95, 1.0], [1.0, 0.92, 1.0]])
    comp = np.array([[1.0, 0.70, 1.0], [1.0, 0.72, 1.0], [1.0, 0.75, 0.9]])
    rows = welch_per_class(base, comp, alpha=0.05)
    assert rows[0]["p"] is None and not rows[0]["significant"]  # no spread in either population
    ref = stats.ttest_ind(comp[:, 1], base[:, 1], equal_var=False)
    assert rows[1]["t"] == pytest.approx(ref.statistic) and rows[1]["p"] == pytest.approx(ref.pvalue)
    ref2 = stats.ttest_ind(comp[:, 2], base[:, 2], equal_var=False)
    assert rows[2]["p"] == pytest.approx(ref2.pvalue)
    # Holm over the two tested classes: the smaller p doubles, the larger is max(itself, that)
    small, large = sorted([ref.pvalue, ref2.pvalue])
    holm = {rows[1]["p"]: rows[1]["p_holm"], rows[2]["p"]: rows[2]["p_holm"]}
    assert holm[small] == pytest.approx(min(1, 2 * small)) and holm[large] == pytest.approx(max(large, min(1, 2 * small)))
    assert rows[1]["significant"] == (rows[1]["p_holm"] < 0.05)
    assert rows[1]["compressed_mean"] == pytest.approx(comp[:, 1].mean())


def test_welch_needs_two_seeds_per_population():
    rows = welch_per_class(np.array([[1.0, 0.5]]), np.array([[0.9, 0.4]]), alpha=0.05)
    assert all(r["p"] is None and not r["significant"] for r in rows)


def test_member_change():
    labels = np.array([0, 0, 1, 1, 1])
    b = np.array([0, 0, 1, 1, 0])  # 4 right
    c = np.array([0, 1, 1, 0, 1])  # 3 right; class 0: 2 -> 1 (-50 pp), class 1: 2 -> 2 of 3
    out = member_change(b, c, labels, 2)
    assert out["delta_accuracy_pp"] == pytest.approx(-20.0)
    assert out["flip_rate"] == pytest.approx(0.6) and out["negative_flip_rate"] == pytest.approx(0.4)
    assert out["largest_class"] == 0 and out["largest_class_delta_pp"] == pytest.approx(-50.0)


def test_spread():
    assert spread([1.0, 3.0]) == {"mean": 2.0, "sd": pytest.approx(np.sqrt(2)), "min": 1.0, "max": 3.0, "n": 2}
    assert spread([1.0])["sd"] is None


def test_member_robustness_compares_each_seed_with_its_own_baseline(tmp_path):
    """Hand-made corrupted predictions (1 corruption x 2 severities x 4 images) where dvc.yaml puts them: seed 0's
    files in the cell's folder, seed 1's under _population/; each member is scored against its own seed."""
    from conftest import REPO

    from compression_audit.core.config import load_params
    from compression_audit.core.layout import Layout
    from compression_audit.measure.population import member_robustness
    from compression_audit.measure.robustness import save_corrupted_predictions

    params = load_params(REPO / "params.yaml")
    assert params.population_seeds == (0, 1)
    labels = np.array([0, 1, 2, 0, 1, 2])
    indices = np.array([0, 1, 2, 3])  # the corrupted set: the first 4 test images
    kinds = {"gaussian_noise": [0.04, 0.06]}

    def save(path, preds):
        path.parent.mkdir(parents=True, exist_ok=True)
        save_corrupted_predictions(path, np.array(preds)[None], labels[indices], indices, kinds)

    cell = tmp_path / "predictions-corrupted" / "gtsrb-lenet5"
    save(cell / "seed0.npz", [[0, 1, 2, 0], [0, 1, 2, 1]])  # 100 %, 75 %
    save(cell / "seed1.npz", [[0, 1, 0, 0], [0, 1, 0, 0]])  # 75 %, 75 %
    save(cell / "w4a8.npz", [[0, 2, 2, 0], [1, 1, 2, 1]])  # seed 0's variant: 75 %, 50 %
    save(cell / "_population" / "seed1" / "w4a8.npz", [[0, 1, 0, 0], [0, 1, 0, 0]])  # seed 1's: as its baseline
    clean = np.array([[0, 1, 2, 0, 1, 2], [0, 1, 2, 0, 1, 1]])
    layout = Layout(params.seeds[0], tmp_path)
    got = member_robustness(params, layout, "gtsrb-lenet5", "w4a8", labels, clean, clean)
    # seed 0: errors (25 + 50) / 2 = 37.5 %, its baseline's 12.5 %: excess 25 pp; one flip of 4 per severity
    assert got[0] == {"mce_pct": 37.5, "excess_error_pp": 25.0, "corrupted_flip_rate": 0.25}
    # seed 1 against seed 1's baseline, not seed 0's: no excess, no flips
    assert got[1] == {"mce_pct": 25.0, "excess_error_pp": 0.0, "corrupted_flip_rate": 0.0}
    with pytest.raises(Exception, match="not from this cell's test set"):
        member_robustness(params, layout, "gtsrb-lenet5", "w4a8", labels[::-1].copy(), clean, clean)
