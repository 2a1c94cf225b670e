"""Quantization-aware training on a toy task: the grid survives training, the converted model is its twin."""

import copy
import dataclasses

import pytest
import torch
from test_training import AUG, CPU, tiny_data
from test_training import HP as TRAIN_HP

from compression_audit.compress.qat import qat_finetune
from compression_audit.compress.quantization import (QuantSpec, calibrate_twin, convert_to_int8, max_levels_per_channel,
    quantized_weights)
from compression_audit.core.device import resolve_runtime
from compression_audit.models.networks import Classifier
from compression_audit.models.training import fit

HP = dataclasses.replace(TRAIN_HP, epochs=4)


def toy_data():
    return tiny_data(n=96)


@pytest.fixture(scope="module")
def trained():
    data = toy_data()
    torch.manual_seed(0)
    model = Classifier("lenet5", data.num_classes, data.mean, data.std)
    fit(model, data, HP, AUG, CPU, seed=0, eval_batch_size=64)
    return model.cpu().eval(), data


def quant_params(twin):
    return {k: v.clone() for k, v in twin.state_dict().items() if k.endswith(("scale", "zero_point"))}


def weights(twin):
    return {k: v.clone() for k, v in twin.state_dict().items() if k.endswith("weight")}


@pytest.mark.parametrize("bits,levels", [(4, 16), (8, 256)])
def test_qat_trains_on_a_frozen_grid_and_converts_to_its_twin(trained, bits, levels):
    model, data = trained
    spec = QuantSpec(bits, 8)
    twin = calibrate_twin(model, spec, torch.from_numpy(data.images["val"]), 32)
    scales, before = quant_params(twin), weights(twin)
    result = qat_finetune(twin, "lenet5", data, HP, AUG, CPU, seed=0, eval_batch_size=64, epochs=2, lr=0.01,
                          max_images=64)
    assert result.epochs == 2 and result.images == 64 and 1 <= result.best_epoch <= 2
    assert 0.0 <= result.val_acc_before <= 1.0 and 0.0 <= result.val_acc_after <= 1.0
    after = weights(twin)
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained
    assert all(torch.equal(scales[k], v) for k, v in quant_params(twin).items())  # on the calibrated grid
    int8 = convert_to_int8(twin, spec)
    assert max_levels_per_channel(int8) <= levels
    if bits == 4:
        assert all(int(w.min()) >= -8 and int(w.max()) <= 7 for w in quantized_weights(int8).values())
    x = torch.from_numpy(data.images["test"]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        t, q = twin(x), int8(x)
    assert (t.argmax(1) == q.argmax(1)).float().mean() >= 0.97
    assert (t - q).abs().max() <= 0.05 * t.abs().max()


def test_qat_leaves_the_source_model_alone_and_is_deterministic(trained):
    model, data = trained
    source = copy.deepcopy(model.state_dict())
    spec = QuantSpec(4, 8)
    runs = []
    for _ in range(2):
        twin = calibrate_twin(model, spec, torch.from_numpy(data.images["val"]), 32)
        qat_finetune(twin, "lenet5", data, HP, AUG, CPU, seed=3, eval_batch_size=64, epochs=1, lr=0.01, max_images=0)
        runs.append(weights(twin))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert all(torch.equal(source[k], v) for k, v in model.state_dict().items())


def test_qat_refuses_mixed_precision(trained):
    model, data = trained
    twin = calibrate_twin(model, QuantSpec(8, 8), torch.from_numpy(data.images["val"]), 32)
    with pytest.raises(ValueError, match="fp32"):
        qat_finetune(twin, "lenet5", data, HP, AUG, resolve_runtime("cpu", "bf16"), 0, 64, 1, 0.01, 0)
