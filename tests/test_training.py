import dataclasses

import numpy as np
import pytest
import torch

from compression_audit.core.config import AugmentConfig, ModelHParams
from compression_audit.core.device import resolve_runtime
from compression_audit.data.prepared import PreparedData
from compression_audit.models import training
from compression_audit.models.networks import Classifier
from compression_audit.models.training import TrainingDiverged, fit, lr_at

HP = ModelHParams(epochs=3, batch_size=16, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.0005,
                  label_smoothing=0.0, warmup_fraction=0.2)
AUG = AugmentConfig(hflip=True, crop_padding=2)
CPU = resolve_runtime("cpu", "fp32")


def tiny_data(n=64, classes=3) -> PreparedData:
    rng = np.random.default_rng(0)
    labels = {s: rng.integers(0, classes, n).astype(np.int64) for s in ("train", "val", "test")}
    # class-dependent brightness makes the task learnable
    images = {s: (rng.integers(0, 60, (n, 32, 32, 3)) + 90 * labels[s][:, None, None, None]).astype(np.uint8)
              for s in labels}
    return PreparedData("toy", tuple("abc"[:classes]), images, labels, (0.5,) * 3, (0.25,) * 3)


def _learning(history):
    """The history without wall-clock fields, which differ between identical runs."""
    return [(r.epoch, r.lr, r.train_loss, r.train_acc, r.val_loss, r.val_acc) for r in history]


def _fit(data, hp=HP, resume=None, seed=0):
    torch.manual_seed(seed)
    model = Classifier("lenet5", data.num_classes, data.mean, data.std)
    result = fit(model, data, hp, AUG, CPU, seed, eval_batch_size=32, resume_path=resume)
    return model, result


def test_one_cycle_schedule_known_values():
    hp = dataclasses.replace(HP, lr=1.0, warmup_fraction=0.25)
    values = [lr_at(s, 100, hp) for s in (0, 25, 50, 100)]
    assert values == pytest.approx([0.1, 1.0, 2 / 3, 0.0])


def test_training_is_deterministic_and_learns():
    data = tiny_data()
    m1, r1 = _fit(data)
    m2, r2 = _fit(data)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert _learning(r1.history) == _learning(r2.history)
    assert r1.best_val_acc > 0.6  # three brightness classes: chance is 1/3
    assert r1.best_epoch == max(range(1, 4), key=lambda e: (r1.history[e - 1].val_acc, -e))


def test_different_seed_gives_different_model():
    data = tiny_data()
    m1, _ = _fit(data, seed=0)
    m2, _ = _fit(data, seed=1)
    assert not torch.equal(m1.net.conv1.weight, m2.net.conv1.weight)


def test_resume_after_interruption_matches_uninterrupted(tmp_path, monkeypatch):
    data = tiny_data()
    reference, ref_result = _fit(data)
    resume = tmp_path / "run.resume.pt"
    real_evaluate = training.evaluate
    calls = {"n": 0}

    def dying_evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # die during epoch 3, after epochs 1-2 were saved
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", dying_evaluate)
    with pytest.raises(KeyboardInterrupt):
        _fit(data, resume=resume)
    assert resume.is_file()
    monkeypatch.setattr(training, "evaluate", real_evaluate)
    resumed, result = _fit(data, resume=resume)
    assert result.resumed_from_epoch == 2
    assert _learning(result.history) == _learning(ref_result.history)
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_file_of_another_config_is_ignored(tmp_path):
    data = tiny_data()
    resume = tmp_path / "run.resume.pt"
    _fit(data, hp=dataclasses.replace(HP, epochs=2), resume=resume)
    assert resume.is_file()  # the final epoch does not write one, epoch 1 did
    _, result = _fit(data, hp=dataclasses.replace(HP, epochs=2, lr=0.01), resume=resume)
    assert result.resumed_from_epoch == 0


def test_divergence_stops_with_a_message():
    data = tiny_data()
    model = Classifier("lenet5", data.num_classes, data.mean, data.std)
    with torch.no_grad():
        model.net.fc3.weight.fill_(1e38)  # logits overflow to inf: the loss is NaN from the first step
    with pytest.raises(TrainingDiverged, match="diverged in epoch 1 .*Lower models.lenet5.lr"):
        fit(model, data, HP, AUG, CPU, seed=0, eval_batch_size=32)


def test_weight_average_known_values():
    model = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), torch.nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    average = training.WeightAverage(model, decay=0.75)
    with torch.no_grad():
        model[0].weight.fill_(5.0)  # in place, as SGD does
    model[1].num_batches_tracked += 3
    average.update()
    average.update()
    # 1 -> 0.75*1 + 0.25*5 = 2 -> 0.75*2 + 0.25*5 = 2.75
    assert average.model[0].weight.tolist() == [[2.75, 2.75]]
    assert average.model[1].num_batches_tracked.item() == 3  # integer buffers are copied, not averaged
    assert model[0].weight.tolist() == [[5.0, 5.0]]  # the live model is untouched


def test_weight_average_is_what_is_kept_and_resumes_identically(tmp_path, monkeypatch):
    data = tiny_data()
    hp = dataclasses.replace(HP, ema_decay=0.9)
    plain, _ = _fit(data)
    averaged, result = _fit(data, hp=hp)
    assert not torch.equal(plain.net.conv1.weight, averaged.net.conv1.weight)
    assert result.best_val_acc > 0.6
    resume = tmp_path / "run.resume.pt"
    real_evaluate = training.evaluate
    calls = {"n": 0}

    def dying_evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", dying_evaluate)
    with pytest.raises(KeyboardInterrupt):
        _fit(data, hp=hp, resume=resume)
    monkeypatch.setattr(training, "evaluate", real_evaluate)
    resumed, resumed_result = _fit(data, hp=hp, resume=resume)
    assert resumed_result.resumed_from_epoch == 2
    for (k, a), b in zip(averaged.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert _learning(resumed_result.history) == _learning(result.history)
