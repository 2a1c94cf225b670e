"""Known answers for saliency maps and their comparison (captum's discipline: hand-computed gradients)."""

import numpy as np
import pytest
import torch
from torch import nn

from compression_audit.core.device import resolve_runtime
from compression_audit.data.splits import stratified_subset
from compression_audit.measure.attribution import (attribute, mad_percent, mean_interval, reduce_and_normalize,
    spearman, top_overlap)
from compression_audit.models.networks import Classifier

CPU = resolve_runtime("cpu", "fp32")


class Linear(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


def images(n=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("method", ["saliency", "guided_backprop"])
def test_linear_model_map_is_abs_weight_max_over_channels(method):
    torch.manual_seed(0)
    model = Linear()
    targets = np.array([0, 1, 2, 1, 0])
    maps, _ = attribute(model, images(), targets, method, CPU, batch_size=2)
    w = model.fc.weight.detach().reshape(3, 3, 32, 32).abs().amax(dim=1)  # (classes, H, W)
    expected = (w / w.flatten(1).amax(dim=1)[:, None, None]).numpy()
    assert maps.shape == (5, 32, 32)
    np.testing.assert_allclose(maps, expected[targets], rtol=1e-5, atol=1e-6)


def test_integrated_gradients_of_linear_model_is_weight_times_input():
    torch.manual_seed(0)
    model = Linear()
    x = images(2)
    maps, _ = attribute(model, x, np.array([1, 2]), "integrated_gradients", CPU, batch_size=2, ig_steps=8)
    xf = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    w = model.fc.weight.detach().reshape(3, 3, 32, 32)
    expected = reduce_and_normalize(w[[1, 2]] * xf).numpy()  # IG from a zero baseline is exact for a linear model
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-5)


def test_model_parameters_mode_and_grads_are_left_as_found():
    model = Classifier("lenet5", 10, (0.5,) * 3, (0.25,) * 3).train()
    first = next(model.parameters())
    first.grad = torch.full_like(first, 7.0)
    last = list(model.parameters())[-1]
    last.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    attribute(model, images(4), np.arange(4), "saliency", CPU, batch_size=4)
    assert model.training
    assert torch.equal(first.grad, torch.full_like(first, 7.0))
    assert not last.requires_grad and all(p.requires_grad for p in list(model.parameters())[:-1])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in list(model.parameters())[1:])


def test_identical_maps_compare_as_identical():
    maps = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    assert mad_percent(maps, maps).tolist() == [0.0] * 4
    np.testing.assert_allclose(spearman(maps, maps), 1.0)
    np.testing.assert_allclose(top_overlap(maps, maps), 1.0)


def test_shifted_map_has_hand_computed_mad_and_overlap():
    a = np.zeros((1, 4, 4), np.float32)
    a[0, 0, 0], a[0, 0, 1] = 1.0, 0.5
    b = np.roll(a, 1, axis=2)  # 1.0 at (0, 1), 0.5 at (0, 2)
    # |a - b| = 1.0 at (0,0), 0.5 at (0,1), 0.5 at (0,2): 2.0 / 16 pixels = 12.5 %
    assert mad_percent(a, b)[0] == pytest.approx(12.5)
    # top 10 % of 16 pixels = 2 pixels: {(0,0), (0,1)} vs {(0,1), (0,2)} share one
    assert top_overlap(a, b)[0] == pytest.approx(0.5)


def test_spearman_of_reversed_ranking_is_minus_one():
    a = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    assert spearman(a, a[:, ::-1, ::-1].copy())[0] == pytest.approx(-1.0)


def test_stratified_subset_equal_shares_exact_count_and_seeded():
    labels = np.array([0] * 100 + [1] * 100 + [2] * 3)
    idx = stratified_subset(labels, 30, seed=0)
    assert len(idx) == 30 and len(set(idx)) == 30 and (np.diff(idx) > 0).all()
    counts = np.bincount(labels[idx], minlength=3)
    assert counts[2] == 3 and abs(counts[0] - counts[1]) <= 1  # the small class gives its remainder away
    assert (stratified_subset(labels, 30, seed=0) == idx).all()
    assert not (stratified_subset(labels, 30, seed=1) == idx).all()
    assert (stratified_subset(labels, 0, seed=0) == np.arange(203)).all()


def test_mean_interval_covers_mean():
    v = np.random.default_rng(0).normal(5.0, 1.0, 500)
    r = mean_interval(v, 1000, 0)
    assert r["ci_low"] < r["mean"] < r["ci_high"] and r["n"] == 500
    assert mean_interval(np.array([]), 100, 0)["mean"] is None
