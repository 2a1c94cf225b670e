"""The quantize stage's work: calibrate, optionally fine-tune (QAT), convert, measure and save one quantized
variant of one model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from compression_audit.compress.pruning import sparsity
from compression_audit.compress.qat import qat_finetune
from compression_audit.compress.quantization import (QuantSpec, calibrate_twin, convert_to_int8, max_levels_per_channel,
    save_quantized, zeros_kept)
from compression_audit.core.atomic import write_json
from compression_audit.core.config import Params
from compression_audit.core.device import resolve_runtime
from compression_audit.core.environment import environment, results_only
from compression_audit.core.errors import UserError
from compression_audit.core.progress import log
from compression_audit.data.prepared import load_prepared
from compression_audit.models.checkpoint import load_classifier
from compression_audit.models.perf import cpu_speed, serialized_bytes
from compression_audit.models.training import predict_logits


def calibration_subset(n_val: int, count: int, seed: int = 0) -> np.ndarray:
    """A seeded random subset of validation indices (all of them if ``count`` exceeds the split)."""
    return np.sort(np.random.default_rng(seed).permutation(n_val)[: min(count, n_val)])


def quantize_cell(params: Params, dataset: str, arch: str, variant: str, source: Path, data_dir: Path,
                  out: Path, metrics: Path) -> dict:
    q = params.quantize
    params.dataset(dataset)
    params.model(arch)
    if variant not in q.variants:
        raise UserError(f"unknown quantization variant {variant!r}; valid: {', '.join(q.variants)}")
    vcfg = q.variants[variant]
    spec = QuantSpec(vcfg.weight_bits, vcfg.activation_bits, q.backend, q.reduce_range)
    cpu = resolve_runtime("cpu", "fp32", params.train.threads)  # int8 kernels run on the CPU only
    twin_runtime = resolve_runtime(params.train.device, "fp32", params.train.threads)
    data = load_prepared(data_dir)
    model, payload = load_classifier(source, expect_arch=arch, expect_classes=data.num_classes,
                                     registry=params.registry)
    subset = calibration_subset(len(data.labels["val"]), q.calibration_images, q.calibration_seed)
    calib = torch.from_numpy(data.images["val"][subset])
    log(f"quantize {dataset}/{arch} {spec.name}: calibrating on {len(calib)} validation images")
    twin = calibrate_twin(model, spec, calib, q.calibration_batch_size)
    qat = None
    if vcfg.qat_epochs:
        qat = qat_finetune(twin, arch, data, params.model(arch), params.augment[dataset], twin_runtime, q.calibration_seed,
                           params.train.eval_batch_size, vcfg.qat_epochs, vcfg.qat_lr, vcfg.qat_images)
        log(f"QAT {spec.name}: validation accuracy {qat.val_acc_before:.4f} (PTQ) -> {qat.val_acc_after:.4f} "
            f"(epoch {qat.best_epoch}) in {qat.seconds:.0f} s")
    int8 = convert_to_int8(twin, spec)

    bs = params.train.eval_batch_size
    acc, preds = {}, {}
    for name, m, split in (("int8", int8, "val"), ("int8", int8, "test"), ("float", model, "test")):
        x, y = torch.from_numpy(data.images[split]), torch.from_numpy(data.labels[split])
        preds[name, split] = predict_logits(m, x, cpu, bs).argmax(1)
        acc[name, split] = (preds[name, split] == y).float().mean().item()
    test_x = torch.from_numpy(data.images["test"])
    log(f"quantize: running the fake-quant twin on {len(test_x)} test images")
    twin_pred = predict_logits(twin.to(twin_runtime.device), test_x, twin_runtime, bs).argmax(1)
    twin.cpu()
    agreement = (twin_pred == preds["int8", "test"]).float().mean().item()
    float_bytes = serialized_bytes(model.state_dict())
    int8_bytes = serialized_bytes(int8.state_dict())
    speed = cpu_speed(int8, params.speed.batch_size, params.speed.seconds)
    float_speed = cpu_speed(model, params.speed.batch_size, params.speed.seconds)
    kept, pruned_zeros = zeros_kept(model, int8)
    summary = {
        "weight_bits": spec.weight_bits,
        "activation_bits": spec.activation_bits,
        "activation_qmax": spec.activation_qmax,  # 127 with quantize.reduce_range
        "val_acc": round(acc["int8", "val"], 6),
        "test_acc": round(acc["int8", "test"], 6),
        "source_test_acc": round(acc["float", "test"], 6),
        "delta_test_pp": round(100 * (acc["int8", "test"] - acc["float", "test"]), 4),
        "int8_twin_agreement": round(agreement, 6),
        # QAT's settings and result; its wall-clock seconds go under "timing", with every other measured time
        "qat": {k: v for k, v in dataclasses.asdict(qat).items() if k != "seconds"} if qat else None,
        "max_weight_levels": max_levels_per_channel(int8),
        "source_sparsity": sparsity(model)["sparsity"],
        "zeros_kept": round(kept / pruned_zeros, 6) if pruned_zeros else 1.0,
        "size_bytes": int8_bytes,
        "source_size_bytes": float_bytes,
        "env": environment({**cpu.describe(), "backend": q.backend}),
        "timing": {
            **speed,
            "source_images_per_s_large_batch": float_speed["images_per_s_large_batch"],
            "source_latency_ms_batch1": float_speed["latency_ms_batch1"],
            "speedup_vs_fp32": round(speed["images_per_s_large_batch"] / float_speed["images_per_s_large_batch"], 3),
            **({"qat_seconds": qat.seconds} if qat else {}),
        },
    }
    info = {
        "dataset": dataset, "variant": variant, "source": str(source), "quant": dataclasses.asdict(spec),
        "calibration_images": len(calib), "calibration_seed": q.calibration_seed, "metrics": results_only(summary),
        "source_info": payload["info"],
    }
    save_quantized(out, model, twin, int8, spec, data.class_names, info)
    write_json(metrics, summary)
    log(
        f"{dataset}/{arch} {variant} ({spec.name}): test {summary['test_acc']:.4f} vs float {summary['source_test_acc']:.4f}, "
        f"twin agreement {agreement:.4f}, {summary['timing']['speedup_vs_fp32']:.2f}x fp32 -> {out}"
    )
    return summary
