"""The evaluate stage's work: a variant's predictions against the baseline's -> every pairwise metric of
DESIGN.md §6 (details JSON), a few headline numbers (metrics JSON) and per-class Δ plot data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compression_audit.core.atomic import write_csv, write_json
from compression_audit.core.config import Params, is_noise_floor
from compression_audit.core.environment import environment
from compression_audit.core.errors import UserError
from compression_audit.core.progress import log
from compression_audit.data.corrupt import drawn_from
from compression_audit.measure.metrics import ECE_BINS, compare, headline, largest_class_change
from compression_audit.measure.predictions import read_predictions
from compression_audit.measure.robustness import compare_corrupted, load_corrupted_predictions


def evaluate_pair(params: Params, dataset: str, arch: str, variant: str, baseline: Path, compared: Path,
                  details: Path, metrics: Path, per_class_csv: Path, baseline_corrupted: Path,
                  compared_corrupted: Path) -> dict:
    params.check_cell_variant(dataset, arch, variant)
    b, b_meta = read_predictions(baseline)
    c, c_meta = read_predictions(compared)
    if b_meta["class_names"] != c_meta["class_names"] or not np.array_equal(b.labels, c.labels):
        raise UserError(f"{baseline} and {compared} are predictions on different test sets; rerun `dvc repro`")
    cfg = params.evaluate
    log(f"evaluate {dataset}/{arch}: {variant} vs {params.baseline} on {len(b.labels)} test samples "
        f"({cfg.bootstrap_resamples} bootstrap resamples per class)")
    result = compare(b, c, cfg.bootstrap_resamples, cfg.bootstrap_seed, cfg.alpha)
    b_corrupt, c_corrupt = load_corrupted_predictions(baseline_corrupted), load_corrupted_predictions(compared_corrupted)
    subset = b_corrupt["indices"]
    if not drawn_from(b.labels, subset, b_corrupt["labels"]):
        raise UserError(f"{baseline_corrupted} is not from the test set of {baseline}; rerun `dvc repro`")
    robust = compare_corrupted(b_corrupt, c_corrupt, b.prediction[subset], c.prediction[subset])
    names = b_meta["class_names"]
    for row in result["per_class"]:
        row["name"] = names[row["class"]]
    role = "noise floor (another seed's baseline)" if is_noise_floor(variant) else "compressed variant"
    full = {
        "dataset": dataset, "model": arch, "variant": variant, "role": role,
        "baseline": params.baseline, "seeds": list(params.seeds),
        "class_names": names,
        "config": {"bootstrap_resamples": cfg.bootstrap_resamples, "bootstrap_seed": cfg.bootstrap_seed,
                   "alpha": cfg.alpha, "ece_bins": ECE_BINS, "interval": "95 % percentile bootstrap, paired per sample",
                   "test": "exact McNemar per class, Holm-corrected over classes"},
        "baseline_inference": b_meta["info"].get("inference"),
        "variant_inference": c_meta["info"].get("inference"),
        **result,
        "robustness": robust,
        "env": environment({}),
    }
    short = {**headline(result), "mce_pct": robust["mce_pct"], "excess_error_pp": robust["excess_error_pp"],
             "env": full["env"]}
    write_json(details, full)
    write_csv(per_class_csv, [
        {"class": r["name"], "delta_pp": round(r["delta_pp"], 4), "ci_low_pp": round(r["ci_low_pp"], 4),
         "ci_high_pp": round(r["ci_high_pp"], 4), "p_holm": round(r["p_holm"], 6), "significant": int(r["significant"]),
         "n": r["n"]}
        for r in result["per_class"] if r["n"]
    ], ["class", "delta_pp", "ci_low_pp", "ci_high_pp", "p_holm", "significant", "n"])
    write_json(metrics, short)
    worst = largest_class_change(result["per_class"])
    log(f"{dataset}/{arch} {variant}: Δacc {short['delta_accuracy_pp']:+.2f} pp, flips {100 * short['flip_rate']:.2f} % "
        f"(negative {100 * short['negative_flip_rate']:.2f} %), ΔECE {short['delta_ece']:+.4f}, "
        f"largest class change {worst['name']} {worst['delta_pp']:+.1f} pp "
        f"[{worst['ci_low_pp']:+.1f}, {worst['ci_high_pp']:+.1f}], p_holm {worst['p_holm']:.3g}; "
        f"corrupted: mCE {robust['mce_pct']:.2f} % (baseline {robust['baseline_mce_pct']:.2f} %), "
        f"excess error {robust['excess_error_pp']:+.2f} pp, flips {100 * robust['flip_rate']:.2f} % "
        f"(clean {100 * robust['clean_flip_rate']:.2f} % on the same images)")
    return short
