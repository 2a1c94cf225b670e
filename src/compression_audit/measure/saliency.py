"""The saliency stages' work.

saliency_baseline: maps of the baseline on a fixed, seeded, class-stratified subset of the test split.
saliency: maps of one variant on the same images for the same target classes, compared per
sample with the baseline's (MAD, Spearman, top-10 % overlap), aggregated per class and for
flipped vs stable samples, plus a figure of the most changed and of flipped samples.
Quantized variants are explained through their fake-quant twins (captum needs gradients,
which int8 kernels do not have); the outputs say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from compression_audit.core.atomic import atomic_path, write_json
from compression_audit.core.config import Params, is_noise_floor
from compression_audit.core.device import resolve_runtime
from compression_audit.core.environment import environment
from compression_audit.core.errors import UserError
from compression_audit.core.figures import saliency_grid
from compression_audit.core.progress import log
from compression_audit.data.prepared import load_prepared
from compression_audit.data.splits import stratified_subset
from compression_audit.measure.attribution import attribute, mad_percent, mean_interval, spearman, top_overlap
from compression_audit.measure.inference import load_differentiable
from compression_audit.measure.predictions import read_predictions

MAPS_FORMAT = "compression-audit/saliency-maps-v1"


def _targets(params: Params, baseline_pred: np.ndarray, labels: np.ndarray, own_pred: np.ndarray | None) -> np.ndarray:
    policy = params.saliency.target
    if policy == "baseline_prediction":
        return baseline_pred
    if policy == "label":
        return labels
    return own_pred if own_pred is not None else baseline_pred


def save_maps(path: Path, maps: dict[str, np.ndarray], indices: np.ndarray, targets: np.ndarray, meta: dict) -> None:
    """float16 maps per method plus the sample indices and target classes, as a pickle-free .npz."""
    arrays = {f"maps_{m}": v.astype(np.float16) for m, v in maps.items()}
    arrays.update(indices=indices.astype(np.int32), targets=targets.astype(np.int16),
                  meta=np.frombuffer(json.dumps({"format": MAPS_FORMAT, **meta}).encode(), dtype=np.uint8))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def load_maps(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict]:
    if not Path(path).is_file():
        raise UserError(f"{path} does not exist; run `dvc repro` so the saliency_baseline stage makes it first")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes())
            maps = {k[5:]: z[k] for k in z.files if k.startswith("maps_")}
            return maps, z["indices"], z["targets"], meta
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path} is not a readable saliency map file ({exc}); rerun the stage that makes it") from exc


def _compute(params: Params, dataset: str, arch: str, model_path: Path, images: np.ndarray, num_classes: int,
             targets: np.ndarray) -> tuple[dict[str, np.ndarray], dict, str, dict]:
    cfg = params.saliency
    runtime = resolve_runtime(params.train.device, cfg.precision, params.train.threads)
    model, how = load_differentiable(model_path, arch, num_classes, runtime, params.registry)
    maps, speed = {}, {}
    for method in cfg.methods:
        log(f"saliency {dataset}/{arch} {model_path.stem}: {method} on {len(images)} images ({how}, {runtime.precision})")
        maps[method], seconds = attribute(model, images, targets, method, runtime, cfg.batch_size, cfg.ig_steps)
        speed[method] = round(len(images) / seconds, 1) if seconds > 0 else None
    return maps, speed, f"{how}, {runtime.precision} on {runtime.device}", environment(runtime.describe())


def saliency_baseline(params: Params, dataset: str, arch: str, model_path: Path, predictions: Path, data_dir: Path,
                      out: Path, metrics: Path) -> dict:
    params.dataset(dataset)
    params.model(arch)
    preds, _ = read_predictions(predictions)
    indices = stratified_subset(preds.labels, params.saliency.images, params.saliency.seed)
    targets = _targets(params, preds.prediction[indices], preds.labels[indices], None)
    data = load_prepared(data_dir)
    maps, speed, how, env = _compute(params, dataset, arch, model_path, data.images["test"][indices], data.num_classes, targets)
    summary = {"n": int(len(indices)), "methods": list(maps), "explained": how,
               "target": params.saliency.target, "env": env, "timing": {"images_per_s": speed}}
    # a population member's baseline is another seed's checkpoint (seed<k>.pt): the maps say whose they are
    baseline = model_path.stem
    save_maps(out, maps, indices, targets, {"variant": baseline, "explained": how, "target": params.saliency.target})
    write_json(metrics, summary)
    log(f"{dataset}/{arch} {baseline}: maps of {len(indices)} images -> {out} ({speed} images/s)")
    return summary


def saliency_variant(params: Params, dataset: str, arch: str, variant: str, model_path: Path, baseline_maps: Path,
                     baseline_predictions: Path, variant_predictions: Path, data_dir: Path, out: Path, samples: Path,
                     details: Path, metrics: Path, figure: Path) -> dict:
    params.check_cell_variant(dataset, arch, variant)
    b_maps, indices, targets, b_meta = load_maps(baseline_maps)
    missing = sorted(set(params.saliency.methods) - set(b_maps))
    if missing:
        raise UserError(f"{baseline_maps} has no {', '.join(missing)} maps; rerun `dvc repro` so saliency_baseline makes them")
    b_preds, meta = read_predictions(baseline_predictions)
    c_preds, _ = read_predictions(variant_predictions)
    if params.saliency.target == "own_prediction":
        targets = c_preds.prediction[indices]
    data = load_prepared(data_dir)
    images = data.images["test"][indices]
    maps, speed, how, env = _compute(params, dataset, arch, model_path, images, data.num_classes, targets)
    labels = b_preds.labels[indices]
    flipped = b_preds.prediction[indices] != c_preds.prediction[indices]
    names = meta["class_names"]
    frames, per_method, mads = [], {}, {}
    cfg = params.saliency
    for method in cfg.methods:
        a, c = b_maps[method].astype(np.float32), maps[method]
        mad, rho, overlap = mad_percent(a, c), spearman(a, c), top_overlap(a, c)
        mads[method] = mad
        frames.append(pd.DataFrame({
            "sample": indices, "method": method, "label": labels, "class_name": [names[k] for k in labels],
            "target": targets, "flipped": flipped, "mad_pct": mad, "spearman": rho, "top10_overlap": overlap,
        }))
        per_class = {}
        for k in np.unique(labels):
            sel = labels == k
            per_class[names[k]] = {"n": int(sel.sum()), "mad_pct": float(mad[sel].mean()),
                                   "spearman": float(np.nanmean(rho[sel])) if np.isfinite(rho[sel]).any() else None}
        per_method[method] = {
            "mad_pct": mean_interval(mad, 2000, cfg.seed),
            "spearman": mean_interval(rho, 2000, cfg.seed),
            "top10_overlap": mean_interval(overlap, 2000, cfg.seed),
            "mad_pct_stable": mean_interval(mad[~flipped], 2000, cfg.seed),
            "mad_pct_flipped": mean_interval(mad[flipped], 2000, cfg.seed),
            "per_class": per_class,
            # an all-zero map: no gradient reached the input (e.g. a fake-quant clamp on the target logit)
            "zero_maps": int((c.reshape(len(c), -1).max(axis=1) == 0).sum()),
            "zero_maps_baseline": int((a.reshape(len(a), -1).max(axis=1) == 0).sum()),
        }
    table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
    with atomic_path(samples) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    save_maps(out, maps, indices, targets, {"variant": variant, "explained": how, "target": cfg.target})
    baseline = b_meta.get("variant", params.baseline)  # the first seed's, or a population member's own
    role = "noise floor (another seed's baseline)" if is_noise_floor(variant) else "compressed variant"
    full = {
        "dataset": dataset, "model": arch, "variant": variant, "baseline": baseline, "role": role,
        "n": int(len(indices)), "flipped": int(flipped.sum()), "target": cfg.target,
        "explained": how, "baseline_explained": b_meta.get("explained"),
        "subset": {"images": cfg.images, "seed": cfg.seed, "rule": "equal share per class"},
        "methods": per_method, "env": env,
        "timing": {"images_per_s": speed},
    }
    short = {m: {
        "mad_pct": round(r["mad_pct"]["mean"], 4),
        "mad_pct_ci_low": round(r["mad_pct"]["ci_low"], 4),
        "mad_pct_ci_high": round(r["mad_pct"]["ci_high"], 4),
        "spearman": _round(r["spearman"]["mean"]),
        "top10_overlap": round(r["top10_overlap"]["mean"], 4),
        "mad_pct_flipped": _round(r["mad_pct_flipped"]["mean"]),
        "mad_pct_stable": _round(r["mad_pct_stable"]["mean"]),
    } for m, r in per_method.items()}
    short["env"] = full["env"]
    first = cfg.methods[0]
    saliency_grid(figure, images, b_maps[first].astype(np.float32), maps[first], labels,
                  b_preds.prediction[indices], c_preds.prediction[indices], names, mads[first],
                  f"{dataset} / {arch}: {variant} vs {baseline} ({first}; {how})", cfg.figure_samples)
    write_json(details, full)
    write_json(metrics, short)
    m = per_method[first]["mad_pct"]
    log(f"{dataset}/{arch} {variant}: {first} MAD {m['mean']:.2f} % [{m['ci_low']:.2f}, {m['ci_high']:.2f}] over {m['n']} images, "
        f"Spearman {per_method[first]['spearman']['mean']:.3f}, top-10 % overlap {per_method[first]['top10_overlap']['mean']:.3f}")
    return short


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
