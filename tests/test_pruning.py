import copy

import pytest
import torch

from compression_audit.compress import prune as prune_stage
from compression_audit.compress.pruning import amount_grid, prunable_layers, prune_model, sparsity
from compression_audit.core.config import PruneConfig
from compression_audit.models.networks import Classifier


def model(arch="lenet5", seed=0):
    torch.manual_seed(seed)
    return Classifier(arch, 10, (0.5,) * 3, (0.25,) * 3).eval()


def weights(m):
    return torch.cat([layer.weight.flatten() for _, layer in prunable_layers(m)])


@pytest.mark.parametrize("amount", [0.3, 0.7, 0.725])
def test_global_l1_exact_sparsity_and_keeps_largest(amount):
    original = weights(model())
    m = prune_model(model(), amount, "global", "unstructured", "l1")
    pruned = weights(m)
    assert abs(int((pruned == 0).sum()) - round(amount * pruned.numel())) <= 1
    kept = pruned != 0
    assert original[~kept].abs().max() <= original[kept].abs().min()
    assert torch.equal(pruned[kept], original[kept])  # survivors untouched
    assert not any(hasattr(layer, "weight_orig") or layer._forward_pre_hooks for _, layer in prunable_layers(m))


def test_local_exact_sparsity_per_layer():
    m = prune_model(model(), 0.5, "local", "unstructured", "l1")
    for row in sparsity(m)["layers"]:
        assert abs(row["zeros"] - round(0.5 * row["weights"])) <= 1, row


@pytest.mark.parametrize("score", ["l1", "l2", "random"])
def test_channel_structured_zeroes_whole_channels(score):
    m = prune_model(model("resnet18"), 0.25, "local", "channel", score)
    layers = prunable_layers(m)
    for _, layer in layers[:-1]:
        per_channel = layer.weight.flatten(1)
        dead = (per_channel == 0).all(1)
        assert int(dead.sum()) == round(0.25 * per_channel.shape[0])
        assert torch.equal((per_channel == 0).any(1), dead)  # no partially zeroed channel
    assert (layers[-1][1].weight != 0).all()  # the class layer keeps every class


def test_l2_channel_ranking_differs_from_l1():
    m = model("lenet5")
    with torch.no_grad():
        w = m.net.conv1.weight  # 6 channels of 75 weights
        w.fill_(0.02)  # channels 1-5: L1 1.5, L2 0.17
        w[0].zero_()
        w[0, 0, 0, 0] = 1.0  # channel 0: L1 1.0, L2 1.0
    a = prune_model(copy.deepcopy(m), 1 / 6, "local", "channel", "l1").net.conv1.weight
    b = prune_model(copy.deepcopy(m), 1 / 6, "local", "channel", "l2").net.conv1.weight
    assert (a[0] == 0).all() and (a[1:] != 0).all()  # L1 drops the channel with the smallest sum
    assert (b[0] != 0).any() and int((b.flatten(1) == 0).all(1).sum()) == 1  # L2 keeps it


def test_random_score_differs_from_l1_at_same_amount():
    a = weights(prune_model(model(), 0.5, "global", "unstructured", "l1"))
    b = weights(prune_model(model(), 0.5, "global", "unstructured", "random", seed=1))
    assert abs(int((a == 0).sum()) - int((b == 0).sum())) <= 1
    assert not torch.equal(a == 0, b == 0)


def test_amount_zero_changes_nothing():
    assert torch.equal(weights(prune_model(model(), 0.0)), weights(model()))


def test_grid():
    grid = amount_grid(0.025)
    assert len(grid) == 40 and grid[0] == 0.0 and grid[-1] == 0.975 and 0.725 in grid


def test_search_picks_largest_amount_within_tolerance(monkeypatch):
    # validation accuracy as a known, non-monotonic function of the measured sparsity
    table = {0.9: 0.50, 0.8: 0.905, 0.7: 0.85}

    def fake_evaluate(m, images, labels, runtime, batch_size):
        return 0.0, table.get(round(sparsity(m)["sparsity"], 1), 0.91)

    monkeypatch.setattr(prune_stage, "evaluate", fake_evaluate)
    cfg = PruneConfig("global", "unstructured", "l1", "auto", 1.0, 0.1, 0, 0.01, 0)
    amount, rows = prune_stage.search_amount(model(), cfg, (None, None), None, 1, base_val_acc=0.91)
    # 0.9 drops 41 pp; 0.8 drops 0.5 pp -> chosen, although 0.7 would drop 6 pp
    assert amount == 0.8
    assert [r["amount"] for r in rows] == [0.8, 0.9] and rows[0]["drop_pp"] == pytest.approx(0.5)


def test_finetune_keeps_the_mask_and_changes_survivors():
    import dataclasses

    from conftest import REPO
    from test_training import CPU, tiny_data

    from compression_audit.core.config import load_params

    params = load_params(REPO / "params.yaml")
    params = dataclasses.replace(
        params,
        prune=dataclasses.replace(params.prune, finetune_epochs=1, finetune_lr=0.05),
        models={**params.models, "lenet5": dataclasses.replace(params.models["lenet5"], batch_size=16)},
    )
    data = tiny_data()
    m = prune_model(Classifier("lenet5", data.num_classes, data.mean, data.std), 0.6)
    before = weights(m).clone()
    prune_stage.finetune(m, params, "cifar10", data, CPU)
    after = weights(m)
    assert torch.equal(after[before == 0], torch.zeros_like(after[before == 0]))  # pruned stay pruned
    assert not torch.equal(after[before != 0], before[before != 0])  # the rest trained
    assert not any(hasattr(layer, "weight_orig") for _, layer in prunable_layers(m))
