"""Temperature scaling on logits with a known answer."""

import numpy as np
import pytest

from compression_audit.core.errors import UserError
from compression_audit.measure.calibration import ece_at, fit_temperature, nll, no_optimum


def calibrated(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from softmax(logits): calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, (n, k))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return logits, labels


@pytest.mark.parametrize("multiple", [0.5, 1.0, 2.5])
def test_recovers_the_known_multiple(multiple):
    logits, labels = calibrated(100_000, 10, seed=int(multiple * 10))
    t = fit_temperature(multiple * logits, labels)  # over- (x2.5) or under-confident (x0.5) by a known factor
    assert t == pytest.approx(multiple, rel=0.03)
    assert ece_at(multiple * logits, labels, t) < 0.01
    if multiple != 1.0:
        assert ece_at(multiple * logits, labels) > 0.05  # before scaling it was miscalibrated


def test_nll_is_minimal_at_t_and_bounds_are_flagged():
    logits, labels = calibrated(20_000, 5, seed=3)
    t = fit_temperature(3.0 * logits, labels)
    assert nll(3.0 * logits, labels, t) < min(nll(3.0 * logits, labels, t * 0.9), nll(3.0 * logits, labels, t * 1.1))
    assert not no_optimum(3.0 * logits, labels, t)
    perfect = np.eye(5)[labels] * 3.0  # every sample right: the NLL keeps falling as T -> 0
    assert no_optimum(perfect, labels, fit_temperature(perfect, labels))
    with pytest.raises(UserError, match="validation split is empty"):
        fit_temperature(logits[:0], labels[:0])
