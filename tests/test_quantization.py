import pytest
import torch

from compression_audit.models import Classifier
from compression_audit.pruning import prune_model
from compression_audit.quantization import (
    QuantSpec,
    calibrate_twin,
    load_quantized,
    save_quantized,
    convert_to_int8,
    max_levels_per_channel,
    quantized_weights,
    zeros_kept,
)


def trained_like(arch, seed=0):
    torch.manual_seed(seed)
    m = Classifier(arch, 10, (0.5,) * 3, (0.25,) * 3).eval()
    for mod in m.modules():  # non-trivial BatchNorm statistics, so folding matters
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
    return m


def calib_images(n=64, seed=1):
    return torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def run(m, images):
    with torch.no_grad():
        return m(images.permute(0, 3, 1, 2).float() / 255)


@pytest.mark.parametrize("arch", ["lenet5", "squeezenet", "resnet18"])
@pytest.mark.parametrize("bits,max_levels", [(8, 256), (4, 16)])
def test_levels_and_twin_agreement(arch, bits, max_levels):
    m = trained_like(arch)
    spec = QuantSpec(bits, 8)
    twin = calibrate_twin(m, spec, calib_images(), 32)
    int8 = convert_to_int8(twin, spec)
    levels = max_levels_per_channel(int8)
    assert levels <= max_levels and (bits == 4 or levels > 16)  # 8-bit really uses more than 4-bit's grid
    if bits == 4:
        assert all(int(w.min()) >= -8 and int(w.max()) <= 7 for w in quantized_weights(int8).values())
    x = calib_images(32, seed=2)
    t, q, f = run(twin, x), run(int8, x), run(m, x)
    assert (t.argmax(1) == q.argmax(1)).float().mean() >= 0.95
    scale = f.abs().max()
    assert (t - q).abs().max() <= 0.05 * scale  # real kernels and fake quant round the same way, up to accumulation
    assert not torch.equal(t, f)  # the twin really quantizes


def test_source_model_untouched():
    m = trained_like("lenet5")
    before = {k: v.clone() for k, v in m.state_dict().items()}
    calibrate_twin(m, QuantSpec(8, 8), calib_images(), 32)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_pruned_zeros_stay_zero():
    m = prune_model(trained_like("resnet18"), 0.7)
    spec = QuantSpec(8, 8)
    int8 = convert_to_int8(calibrate_twin(m, spec, calib_images(), 32), spec)
    kept, total = zeros_kept(m, int8)
    assert total > 0.69 * sum(p.numel() for n, p in m.named_parameters() if n.endswith("weight") and p.ndim > 1)
    assert kept == total


def test_saved_variant_reloads_identically(tmp_path):
    m = trained_like("squeezenet")
    spec = QuantSpec(4, 8)
    twin = calibrate_twin(m, spec, calib_images(), 32)
    int8 = convert_to_int8(twin, spec)
    path = tmp_path / "q.pt"
    save_quantized(path, m, twin, int8, spec, tuple("abcdefghij"), {})
    raw = torch.load(path, weights_only=True)  # plain data: no code is unpickled
    assert raw["quant"]["weight_bits"] == 4
    int8_b, twin_b, _ = load_quantized(path)
    x = calib_images(8, seed=3)
    assert torch.equal(run(int8, x), run(int8_b, x))
    assert torch.equal(run(twin, x), run(twin_b, x))
