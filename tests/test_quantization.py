import pytest
import torch

from compression_audit.compress.pruning import prune_model
from compression_audit.compress.quantization import (QuantSpec, calibrate_twin, convert_to_int8, load_quantized,
    max_levels_per_channel, quantized_weights, save_quantized, zeros_kept)
from compression_audit.core.errors import UserError
from compression_audit.models.networks import Classifier


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


def test_reduced_range_int8_conv_is_exact_at_the_extremes():
    """Known answer: activations at their 7-bit maximum (127) against weights at 127 and -128 through a real int8
    conv; every pair of products fits int16, so the kernel's sums are exact on any x86 CPU, VNNI or not (at 255
    the pairs of the first channel would clamp to 32767 on a CPU without VNNI)."""
    spec = QuantSpec(8, 8)
    assert spec.activation_qmax == 127 and not spec.saturates
    torch.backends.quantized.engine = spec.backend
    x = torch.quantize_per_tensor(torch.full((1, 16, 3, 3), 127.0), 1.0, 0, torch.quint8)
    w = torch.cat([torch.full((1, 16, 1, 1), 127.0), torch.full((1, 16, 1, 1), -128.0)])
    qw = torch.quantize_per_channel(w, torch.ones(2, dtype=torch.double), torch.zeros(2, dtype=torch.long), 0, torch.qint8)
    conv = torch.ao.nn.quantized.Conv2d(16, 2, 1)
    conv.set_weight_bias(qw, None)
    conv.scale, conv.zero_point = 2048.0, 128  # output grid -262144..260096 holds both sums
    out = conv(x).dequantize()[0, :, 0, 0].tolist()
    exact = [127 * 127 * 16, -128 * 127 * 16]  # 258064, -260096
    assert out == [2048.0 * round(e / 2048) for e in exact]


def test_full_range_refused_where_int16_sums_would_saturate():
    full8 = dict(weight_bits=8, activation_bits=8, reduce_range=False)
    w4 = QuantSpec(4, 8, reduce_range=False)  # 2 * 255 * 8 fits int16: allowed on every CPU
    assert w4.activation_qmax == 255 and not w4.saturates
    if torch.cpu._is_vnni_supported():
        assert QuantSpec(**full8).saturates  # VNNI sums in int32, so it is allowed
    else:
        with pytest.raises(UserError, match=r"reduce_range: true"):
            QuantSpec(**full8)
