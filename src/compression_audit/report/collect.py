"""The report stage's data: everything the report shows, read from the stages' declared outputs.

Nothing here recomputes a metric; it gathers the train, prune, quantize, evaluate and saliency
outputs of every cell into one structure and names any missing file with the stage that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from compression_audit.core.config import Params, is_noise_floor
from compression_audit.core.errors import UserError
from compression_audit.core.layout import Layout, cell_name
from compression_audit.core.outputs import read_stage_json

# The study's headline findings (SafeAI 2022), as DESIGN.md §1 and the report's "study vs this run" table state them.
STUDY = {
    "accuracy_drop_pp": 1.0,  # compressed models lose < 1 pp of test accuracy
    "pruned_fraction": 0.725,  # up to 72.5 % of weights pruned within that tolerance
    "flip_rate": 0.075,  # at most 7.5 % of test predictions change
    "class_change_pp": 15.0,  # per-class accuracy changes up to 15 pp
    "saliency_mad_pct": 7.5,  # saliency maps differ by ~7.5 % (MAD)
}


@dataclass
class Comparison:
    variant: str
    details: dict[str, Any]
    headline: dict[str, Any]
    saliency: dict[str, Any] | None = None  # saliency details
    saliency_samples: pd.DataFrame | None = None
    saliency_figure: Path | None = None

    @property
    def is_noise_floor(self) -> bool:
        return is_noise_floor(self.variant)


@dataclass
class Cell:
    dataset: str
    model: str
    train: dict[int, dict[str, Any]]
    prune: dict[str, Any]
    quantize: dict[str, dict[str, Any]]
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    verdict: dict[str, Any] | None = None  # the verdict stage's table (verdict.py), when any variant was compared
    predict: dict[str, dict[str, Any]] = field(default_factory=dict)  # predict stage summaries, baseline included
    population: dict[str, Any] | None = None  # the population stage's details, when it ran
    population_gallery: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.dataset}-{self.model}"

    @property
    def noise_floor(self) -> Comparison | None:
        return next((c for c in self.comparisons.values() if c.is_noise_floor), None)

    @property
    def compressed(self) -> list[Comparison]:
        return [c for c in self.comparisons.values() if not c.is_noise_floor]


def _json(path: Path, stage: str) -> dict[str, Any]:
    return read_stage_json(path, stage, "the report")


def collect(params: Params, reports: Path) -> tuple[list[Cell], list[str]]:
    """(cells, what was not run) for params.yaml's datasets x models and evaluate.variants.

    A cell whose baseline was never trained, or a variant that was never evaluated (a user ran
    `dvc repro` on a subset of stages), is listed as not run; an evaluated variant that
    lacks another stage's output is an error naming the file and the stage that makes it.
    """
    cells, not_run = [], []
    layout = Layout(params.seeds[0], reports)
    for dataset in params.datasets:
        for model in params.models:
            name = cell_name(dataset, model)
            if not layout.train_record(name, params.seeds[0]).is_file():
                not_run.append(name)
                continue
            train = {s: _json(layout.train_record(name, s), "train") for s in params.seeds
                     if layout.train_record(name, s).is_file() or s == params.seeds[0]}
            prune = _json(layout.prune_record(name), "prune")
            quant_names = [*params.quantize.variants, f"pruned_{params.quantize.after_pruning}"]
            quantize = {q: _json(layout.quantize_record(name, q), "quantize") for q in quant_names}
            cell = Cell(dataset, model, train, prune, quantize)
            for variant in params.evaluate.variants:
                if not layout.evaluate_record(name, variant).is_file():
                    not_run.append(f"{name} {variant}")  # never evaluated (a partial `dvc repro`)
                    continue
                samples_path = layout.saliency_samples(name, variant)
                if not samples_path.is_file():
                    raise UserError(f"{samples_path} is missing; run `dvc repro` so the saliency stage makes it before the report")
                cell.comparisons[variant] = Comparison(
                    variant=variant,
                    details=_json(layout.evaluate_details(name, variant), "evaluate"),
                    headline=_json(layout.evaluate_record(name, variant), "evaluate"),
                    saliency=_json(layout.saliency_details(name, variant), "saliency"),
                    saliency_samples=pd.read_parquet(samples_path),
                    saliency_figure=layout.saliency_figure(name, variant),
                )
            if cell.comparisons:
                for variant in (params.baseline, *cell.comparisons):
                    cell.predict[variant] = _json(layout.predict_record(name, variant), "predict")
                if any(not is_noise_floor(v) for v in cell.comparisons):
                    cell.verdict = _json(layout.verdict_details(name), "verdict")
                population = layout.population_details(name)
                if population.is_file():  # absent after a partial `dvc repro`; the section then says so
                    cell.population = _json(population, "population")
                    cell.population_gallery = layout.population_gallery(name)
                cells.append(cell)
            else:
                not_run.append(name)
    if not cells:
        raise UserError(f"no cell has a trained baseline under {reports}/train; run `dvc repro` first")
    return cells, not_run


def size_and_speed(cell: Cell, variant: str) -> tuple[int | None, float | None, float | None]:
    """(bytes on disk, sparsity, CPU images/s at the speed batch) of a variant, from the prune and quantize outputs."""
    if is_noise_floor(variant):
        return None, None, None
    if variant == "pruned":
        p = cell.prune
        return p.get("sparse_size_bytes", p["size_bytes"]), p["sparsity"], p["timing"]["images_per_s_large_batch"]
    q = cell.quantize.get(variant)
    if q is None:
        return None, None, None
    return q["size_bytes"], q.get("source_sparsity"), q["timing"]["images_per_s_large_batch"]


def baseline_size_and_speed(cell: Cell) -> tuple[int | None, float | None]:
    for name, q in cell.quantize.items():
        if not name.startswith("pruned_"):
            return q["source_size_bytes"], q["timing"]["source_images_per_s_large_batch"]
    return None, None
