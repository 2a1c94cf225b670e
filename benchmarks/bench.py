"""What the stages reach next to what the machine can do, measured in one process on random data.

Training: the train stage's loop next to a bare loop on random tensors, on the same device with the
same batch size and precision, so their ratio shows what the data path (gather, crop, flip, labels,
schedule, bookkeeping) costs on top of forward + backward + step. Evaluation: the predict stage's
batched pass over host images next to the bare forward pass. Inference: real int8 kernels next to
the float path. Saliency: captum images/s of the saliency stage's own function.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
import torch.nn.functional as F

from compression_audit.compress.quantization import QuantSpec, calibrate_twin, convert_to_int8
from compression_audit.core.config import AugmentConfig, ModelHParams
from compression_audit.core.device import Runtime, resolve_runtime
from compression_audit.data.prepared import PreparedData
from compression_audit.measure.attribution import attribute
from compression_audit.measure.inference import LoadedModel, predict, raw_images_per_second
from compression_audit.models.networks import BUILTIN, Classifier, ModelRegistry
from compression_audit.models.training import fit


def bare_loop_images_per_s(arch: str, num_classes: int, batch_size: int, min_seconds: float,
                           runtime: Runtime, registry: ModelRegistry = BUILTIN) -> tuple[float, int]:
    """forward + backward + SGD step on one random batch, repeated for at least ``min_seconds``.

    Returns (images/s, steps measured), so the stage loop can be timed over as many steps.
    """
    torch.manual_seed(0)
    model = Classifier(arch, num_classes, (0.5,) * 3, (0.25,) * 3, registry)
    model = model.to(runtime.device, memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.rand(batch_size, 3, 32, 32, device=runtime.device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, num_classes, (batch_size,), device=runtime.device)

    def step() -> None:
        with runtime.autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def sync() -> None:
        if runtime.device.type == "cuda":
            torch.cuda.synchronize(runtime.device)

    for _ in range(3):  # warm-up: allocator, oneDNN primitives, autocast caches
        step()
    sync()
    steps, start = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        if steps % 5 == 0 or steps < 5:
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds and steps >= 3:
                return steps * batch_size / elapsed, steps


def stage_loop_images_per_s(arch: str, hp: ModelHParams, aug: AugmentConfig, steps: int, runtime: Runtime,
                            num_classes: int = 10, registry: ModelRegistry = BUILTIN) -> float:
    """The train stage's own fit() for one epoch of ``steps`` batches on random uint8 images."""
    rng = np.random.default_rng(0)
    n = steps * hp.batch_size
    labels = {s: rng.integers(0, num_classes, m).astype(np.int64) for s, m in (("train", n), ("val", 64), ("test", 64))}
    images = {s: rng.integers(0, 256, (len(v), 32, 32, 3), dtype=np.uint8) for s, v in labels.items()}
    data = PreparedData("bench", tuple(str(i) for i in range(num_classes)), images, labels, (0.5,) * 3, (0.25,) * 3)
    # one extra epoch warms up exactly like the bare loop's warm-up step; the second is measured
    hp = dataclasses.replace(hp, epochs=2)
    torch.manual_seed(0)
    model = Classifier(arch, num_classes, data.mean, data.std, registry)
    result = fit(model, data, hp, aug, runtime, seed=0, eval_batch_size=256)
    return result.history[-1].train_images_per_s


def _random_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def inference_models(arch: str, runtime: Runtime, specs: dict[str, QuantSpec],
                     calibration_images: int = 256, registry: ModelRegistry = BUILTIN) -> dict[str, LoadedModel]:
    """The predict stage's inference paths for one architecture: the float model (channels_last on the runtime's
    device and precision) and real int8 kernels for each quantize variant, from one randomly initialised network
    (kernel speed does not depend on the weights' values)."""
    torch.manual_seed(0)
    model = Classifier(arch, 10, (0.5,) * 3, (0.25,) * 3, registry).eval()
    calib = torch.from_numpy(_random_images(calibration_images, seed=1))
    out = {}
    for name, spec in specs.items():
        int8 = convert_to_int8(calibrate_twin(model, spec, calib, 64), spec)
        out[f"int8 {name}"] = LoadedModel(int8, "int8", resolve_runtime("cpu", "fp32"), False,
                                          {"num_classes": 10, "quant": {"backend": spec.backend}})
    float_model = model.to(runtime.device, memory_format=torch.channels_last)
    out = {f"float {runtime.precision}": LoadedModel(float_model, "float", runtime, True, {"num_classes": 10}), **out}
    return out


def eval_vs_raw(loaded: LoadedModel, images: int, batch_size: int, seconds: float) -> tuple[float, float]:
    """(images/s of the predict stage's batched evaluation of uint8 host images, images/s of the bare forward
    pass on a device-resident batch), measured back to back. The evaluation is timed cold, as the stage's
    single pass is; the raw pass is timed after warm-up (its ceiling)."""
    data = _random_images(images)
    _, elapsed = predict(loaded, data, batch_size)
    return images / elapsed, raw_images_per_second(loaded, batch_size, seconds)


def saliency_images_per_s(arch: str, method: str, runtime: Runtime, images: int, batch_size: int,
                          ig_steps: int, registry: ModelRegistry = BUILTIN) -> dict[str, float]:
    """captum images/s of the saliency stage's attribute() for the float model and the W8A8 fake-quant twin
    (the model an int8 variant is explained through)."""
    torch.manual_seed(0)
    model = Classifier(arch, 10, (0.5,) * 3, (0.25,) * 3, registry).eval()
    twin = calibrate_twin(model, QuantSpec(8, 8), torch.from_numpy(_random_images(256, seed=1)), 64)
    data, targets = _random_images(images), np.random.default_rng(2).integers(0, 10, images)
    rates = {}
    # placed as the saliency stage's load_differentiable places them
    nets = (("float", model.to(runtime.device, memory_format=torch.channels_last)), ("w8a8 twin", twin.to(runtime.device)))
    for kind, net in nets:
        net.eval()
        attribute(net, data[:batch_size], targets[:batch_size], method, runtime, batch_size, ig_steps)  # warm-up
        _, elapsed = attribute(net, data, targets, method, runtime, batch_size, ig_steps)
        rates[kind] = images / elapsed
    return rates
