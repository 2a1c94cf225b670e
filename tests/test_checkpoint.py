import pickle

import pytest
import torch

from compression_audit.core.errors import UserError
from compression_audit.models.checkpoint import load_checkpoint, load_classifier, save_checkpoint
from compression_audit.models.networks import Classifier


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_round_trip_with_weights_only(tmp_path):
    model = Classifier("lenet5", 10, (0.1, 0.2, 0.3), (0.4, 0.5, 0.6)).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, tuple("abcdefghij"), {"seed": 3})
    raw = torch.load(path, weights_only=True)
    assert raw["arch"] == "lenet5" and raw["class_names"][0] == "a" and raw["info"]["seed"] == 3
    loaded, _ = load_classifier(path, expect_arch="lenet5", expect_classes=10)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model(x), loaded(x))


def test_pickled_code_is_refused_not_run(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "compression-audit/checkpoint-v1", "x": Payload()}, f)
    with pytest.raises(UserError, match="refusing to load"):
        load_checkpoint(path)
    assert "code ran" not in capsys.readouterr().out


def test_wrong_architecture_or_classes(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, Classifier("lenet5", 43, (0.5,) * 3, (0.5,) * 3), tuple(map(str, range(43))), {})
    with pytest.raises(UserError, match="holds a lenet5 model, but this stage expects resnet18"):
        load_classifier(path, expect_arch="resnet18")
    with pytest.raises(UserError, match="trained for 43 classes, but the data has 10"):
        load_classifier(path, expect_classes=10)


def test_missing_checkpoint_names_fix(tmp_path):
    with pytest.raises(UserError, match="run `dvc repro`"):
        load_checkpoint(tmp_path / "nope.pt")
