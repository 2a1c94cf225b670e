"""The population stage's work: every seed's baseline and its compressed variants, as populations.

Reads each member's test predictions (the first seed's from the predict stages, the other seeds' from the
predict_population stages), corrupted-set predictions and saliency comparisons (from the saliency and
saliency_population stages), wherever core.layout says they are, and writes per variant:
each seed's change against its own baseline (saliency MAD and robustness under corruptions included) and the spread
over seeds, the per-class Welch t-test on normalised recall, the compression-identified exemplars
(CIEs) with the populations' accuracy on them, and a gallery of CIEs with class names.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from compression_audit.core.atomic import write_json
from compression_audit.core.config import Params
from compression_audit.core.environment import environment
from compression_audit.core.errors import UserError
from compression_audit.core.figures import exemplar_gallery
from compression_audit.core.layout import BASELINE, Layout, cell_name
from compression_audit.core.outputs import read_stage_json
from compression_audit.core.progress import log
from compression_audit.data.corrupt import drawn_from
from compression_audit.data.prepared import load_prepared
from compression_audit.measure.metrics import Predictions
from compression_audit.measure.population_stats import (exemplars, member_change, normalised_recall, spread,
    welch_per_class)
from compression_audit.measure.predictions import read_predictions
from compression_audit.measure.robustness import compare_corrupted, load_corrupted_predictions


def _members(params: Params, path_of: Callable[[int], Path]) -> list[tuple[int, Path]]:
    """(seed, file) for every seed of the population, the file given by the layout for that seed."""
    return [(seed, path_of(seed)) for seed in params.population_seeds]


def member_mads(params: Params, layout: Layout, cell: str, variant: str) -> list[float]:
    """Each seed's saliency MAD (%, saliency.methods' first) of ``variant`` against that seed's own baseline."""
    method = params.saliency.methods[0]
    out = []
    for _, path in _members(params, lambda s: layout.saliency_record(cell, variant, s)):
        record = read_stage_json(path, "saliency", "the population stage")
        if method not in record:
            raise UserError(f"{path} has no {method} maps (saliency.methods changed?); rerun `dvc repro`")
        out.append(record[method]["mad_pct"])
    return out


def member_robustness(params: Params, layout: Layout, cell: str, variant: str, labels: np.ndarray,
                      base_pred: np.ndarray, comp_pred: np.ndarray) -> list[dict]:
    """Each seed's variant against that seed's own baseline on the same corrupted images (robustness.compare_corrupted,
    the evaluate stage's numbers for the first seed): mCE, excess error and flip rate under corruption."""
    out = []
    pairs = zip(_members(params, lambda s: layout.corrupted_predictions(cell, BASELINE, s)),
                _members(params, lambda s: layout.corrupted_predictions(cell, variant, s)), base_pred, comp_pred)
    for (_, b_path), (_, c_path), pred_b, pred_c in pairs:
        b, c = load_corrupted_predictions(b_path), load_corrupted_predictions(c_path)
        if not drawn_from(labels, b["indices"], b["labels"]):
            raise UserError(f"{b_path} is not from this cell's test set; rerun `dvc repro`")
        robust = compare_corrupted(b, c, pred_b[b["indices"]], pred_c[b["indices"]])
        out.append({"mce_pct": robust["mce_pct"], "excess_error_pp": robust["excess_error_pp"],
                    "corrupted_flip_rate": robust["flip_rate"]})
    return out


def _read_all(files: list[tuple[int, Path]], labels: np.ndarray | None, names: list[str] | None
              ) -> tuple[list[Predictions], np.ndarray, list[str]]:
    preds = []
    for _, path in files:
        p, meta = read_predictions(path)
        if labels is None:
            labels, names = p.labels, meta["class_names"]
        elif meta["class_names"] != names or not np.array_equal(p.labels, labels):
            raise UserError(f"{path} holds predictions on another test set than {files[0][1]}; rerun `dvc repro`")
        preds.append(p)
    return preds, labels, names


def population(params: Params, dataset: str, arch: str, reports: Path, data_dir: Path, details: Path, metrics: Path,
               gallery: Path) -> dict:
    """Compare every population variant of one cell over all seeds, from the stages' outputs under ``reports``."""
    params.dataset(dataset)
    params.model(arch)
    seeds = list(params.population_seeds)
    layout, cell = Layout(params.seeds[0], reports), cell_name(dataset, arch)
    base, labels, names = _read_all(_members(params, lambda s: layout.predictions(cell, BASELINE, s)), None, None)
    k = len(names)
    log(f"population {dataset}/{arch}: seeds {seeds}, {len(params.population.variants)} variants, "
        f"{len(labels)} test images")
    base_pred = np.stack([p.prediction for p in base])
    base_probs = np.stack([p.probs for p in base])
    base_recall = np.stack([normalised_recall(p, labels, k) for p in base_pred])
    result, headline, rows = {}, {}, []
    for variant in params.population.variants:
        comp, _, _ = _read_all(_members(params, lambda s: layout.predictions(cell, variant, s)), labels, names)
        comp_pred = np.stack([p.prediction for p in comp])
        changes = [{"seed": s, **member_change(b, c, labels, k), "saliency_mad_pct": mad, **robust}
                   for s, b, c, mad, robust in zip(seeds, base_pred, comp_pred, member_mads(params, layout, cell, variant),
                                                   member_robustness(params, layout, cell, variant, labels, base_pred,
                                                                     comp_pred))]
        for ch in changes:
            ch["largest_class_name"] = names[ch["largest_class"]]
        welch = welch_per_class(base_recall, np.stack([normalised_recall(p, labels, k) for p in comp_pred]),
                                params.evaluate.alpha)
        for row in welch:
            row["name"] = names[row["class"]]
        cie = exemplars(labels, base_pred, base_probs, comp_pred, np.stack([p.probs for p in comp]))
        result[variant] = {
            "members": changes,
            "spread": {**{key: spread([ch[key] for ch in changes]) for key in
                          ("delta_accuracy_pp", "flip_rate", "negative_flip_rate", "saliency_mad_pct",
                           "mce_pct", "excess_error_pp", "corrupted_flip_rate")},
                       # the largest change is in another class per seed: its size is what compares
                       "largest_class_abs_delta_pp": spread([abs(ch["largest_class_delta_pp"]) for ch in changes])},
            "welch": welch,
            "significant_classes": [r["name"] for r in welch if r["significant"]],
            "tested_classes": sum(r["p"] is not None for r in welch),
            "cie": {key: value for key, value in cie.items() if key not in ("indices", "modal_baseline", "modal_compressed")}
            | {"samples": [{"index": int(i), "label": int(labels[i]), "modal_baseline": int(b), "modal_compressed": int(c)}
                           for i, b, c in zip(cie["indices"], cie["modal_baseline"], cie["modal_compressed"])]},
        }
        headline[variant] = {"cie": cie["count"], "cie_pct": round(100 * cie["fraction"], 3),
                             "welch_classes": len(result[variant]["significant_classes"])}
        n = params.population.gallery
        if n and cie["count"]:
            rows.append((variant, cie["indices"][:n], cie["modal_baseline"][:n], cie["modal_compressed"][:n]))
        on = cie["baseline_accuracy_on_cie"]
        log(f"{dataset}/{arch} {variant}: Δacc {result[variant]['spread']['delta_accuracy_pp']['mean']:+.2f} pp "
            f"(sd {result[variant]['spread']['delta_accuracy_pp']['sd'] or 0:.2f}) over {len(seeds)} seeds, "
            f"excess error under corruption {result[variant]['spread']['excess_error_pp']['mean']:+.2f} pp "
            f"(sd {result[variant]['spread']['excess_error_pp']['sd'] or 0:.2f}); "
            f"{cie['count']} CIEs ({100 * cie['fraction']:.2f} %), baseline accuracy on them "
            f"{'–' if on is None else f'{100 * on:.1f} %'} vs {100 * cie['baseline_accuracy_overall']:.1f} % overall; "
            f"Welch-significant classes: {', '.join(result[variant]['significant_classes']) or 'none'}")
    data = load_prepared(data_dir)
    if not np.array_equal(data.labels["test"], labels):
        raise UserError(f"{data_dir} is not the test set these predictions were made on; rerun `dvc repro`")
    full = {"dataset": dataset, "model": arch, "seeds": seeds, "class_names": names, "alpha": params.evaluate.alpha,
            "test": "Welch t-test per class on recall / accuracy across seeds, Holm-corrected over tested classes",
            "saliency_method": params.saliency.methods[0],
            "modal_rule": "most votes; ties to the larger mean probability, then the lower class index",
            "variants": result, "env": environment({})}
    exemplar_gallery(gallery, data.images["test"], labels, rows, names,
                     f"{dataset}/{arch}: compression-identified exemplars (label; baseline → compressed modal "
                     f"prediction over seeds {seeds})")
    write_json(details, full)
    write_json(metrics, headline)
    return headline
