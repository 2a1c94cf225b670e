"""Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): one scalar T > 0
fitted on the validation split by minimising the negative log-likelihood of softmax(logits / T). It changes no
prediction (argmax is unchanged), only confidence, so it shows whether compression broke calibration in a way
that refitting one number repairs."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from compression_audit.core.errors import UserError
from compression_audit.measure.metrics import Predictions, expected_calibration_error

# log T is searched in [-LOG_T_BOUND, LOG_T_BOUND]: T from 0.018 to 55, far beyond any trained network's
LOG_T_BOUND = 4.0


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of the labels under softmax(logits / temperature), in nats."""
    scaled = Predictions(labels=labels, logits=logits.astype(np.float64) / temperature)
    return float(-scaled.log_probs[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T that minimises the validation NLL (bounded scalar search on log T; the NLL is convex in 1/T)."""
    if len(labels) == 0:
        raise UserError("temperature scaling needs validation images, and the validation split is empty; "
                        "raise data.val_fraction")
    result = minimize_scalar(lambda log_t: nll(logits, labels, float(np.exp(log_t))),
                             bounds=(-LOG_T_BOUND, LOG_T_BOUND), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(result.x))


def no_optimum(logits: np.ndarray, labels: np.ndarray, temperature: float) -> bool:
    """True when T is no interior minimum of the NLL: halving or doubling it is not worse (a flat or monotone NLL,
    e.g. every validation image right, where the NLL keeps falling as T -> 0), so T means nothing."""
    here = nll(logits, labels, temperature)
    return min(nll(logits, labels, temperature / 2), nll(logits, labels, temperature * 2)) <= here + 1e-9


def ece_at(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    scaled = Predictions(labels=labels, logits=logits.astype(np.float64) / temperature)
    return expected_calibration_error(scaled.confidence, scaled.correct)
