import pytest
import torch

from compression_audit.core.errors import UserError
from compression_audit.models.networks import MODELS, Classifier, count_parameters, get_model

# The study's sizes (10 classes): LeNet-5 ~62k, SqueezeNet ~750k, ResNet-18 ~11M.
STUDY_PARAMS = {"lenet5": (62_006, 0.0), "squeezenet": (750_000, 0.05), "resnet18": (11_170_000, 0.02)}


@pytest.mark.parametrize("name", list(MODELS))
def test_parameter_count_near_study(name):
    target, tolerance = STUDY_PARAMS[name]
    n = count_parameters(get_model(name, 10))
    assert abs(n - target) <= tolerance * target, f"{name}: {n:,} params"


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("num_classes", [10, 43])
def test_output_shape_and_gradient_reaches_input(name, num_classes):
    torch.manual_seed(0)
    model = Classifier(name, num_classes, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)).eval()
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    logits = model(x)
    assert logits.shape == (2, num_classes)
    logits[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_lenet5_exact_count():
    # conv 3->6 5x5 (456) + conv 6->16 5x5 (2,416) + fc 400->120 (48,120) + 120->84 (10,164) + 84->10 (850)
    assert count_parameters(get_model("lenet5", 10)) == 62_006


def test_normalize_uses_given_statistics():
    model = Classifier("lenet5", 10, (0.5, 0.25, 0.0), (0.5, 0.25, 1.0))
    x = torch.ones(1, 3, 2, 2)
    out = model.normalize(x)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([1.0, 3.0, 1.0]))


def test_unknown_model_names_valid_ones():
    with pytest.raises(UserError, match="lenet5, squeezenet, resnet18"):
        get_model("vgg16", 10)


def test_the_torch_free_name_list_is_the_registry():
    from compression_audit.models import BUILTIN_MODELS

    assert BUILTIN_MODELS == tuple(MODELS)
