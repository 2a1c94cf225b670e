"""Where every artifact of the pipeline lives: the one module besides dvc.yaml that knows the path patterns.

dvc.yaml must spell its outputs literally (DVC builds the graph from them), and the stage scripts receive
their own inputs and outputs from it as options. Code that reads outputs of other stages by name (the
report's collector, the verdict, the population comparison, the `compression-audit` command) asks a
``Layout`` instead of joining paths itself. tests/test_layout.py expands dvc.yaml and checks that every
path a ``Layout`` gives is one of its declared outputs, so the two cannot drift apart.

Models and outputs are kept per cell, ``<dataset>-<model>``. The first seed's baseline is the reference
every variant is compared with; its variants sit directly in the cell's folders, and the variants of the
other seeds (the population members) under ``seed<k>/`` sub-folders (``_population/seed<k>/`` beside
prediction files, because pandas and pyarrow skip folders starting with "_" when they read a whole folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BASELINE = "baseline"  # the variant name of a seed's own baseline (the trained model itself)
MEMBERS = "_population"  # the other seeds' files inside a cell's folder


def cell_name(dataset: str, model: str) -> str:
    return f"{dataset}-{model}"


@dataclass(frozen=True)
class Layout:
    """Artifact paths of one project: ``first_seed`` is params.yaml's ``seeds[0]``, the reference baseline."""

    first_seed: int
    reports: Path = Path("reports")
    models: Path = Path("models")

    def _member(self, seed: int | None) -> bool:
        return seed is not None and seed != self.first_seed

    # --- models
    def baseline_model(self, cell: str, seed: int) -> Path:
        return self.models / cell / f"seed{seed}.pt"

    # --- training, pruning and quantization records
    def train_record(self, cell: str, seed: int) -> Path:
        return self.reports / "train" / f"{cell}-seed{seed}.json"

    def prune_record(self, cell: str) -> Path:
        return self.reports / "prune" / f"{cell}.json"

    def quantize_record(self, cell: str, variant: str) -> Path:
        return self.reports / "quantize" / f"{cell}-{variant}.json"

    # --- predictions
    def _predicted(self, kind: str, cell: str, variant: str, seed: int | None, suffix: str) -> Path:
        folder = self.reports / kind / cell
        if variant == BASELINE:
            return folder / f"seed{self.first_seed if seed is None else seed}{suffix}"
        if self._member(seed):
            return folder / MEMBERS / f"seed{seed}" / f"{variant}{suffix}"
        return folder / f"{variant}{suffix}"

    def predictions(self, cell: str, variant: str, seed: int | None = None) -> Path:
        """Per-sample test predictions of ``variant`` (or a seed's ``baseline``) of ``seed`` (default: the first)."""
        return self._predicted("predictions", cell, variant, seed, ".parquet")

    def corrupted_predictions(self, cell: str, variant: str, seed: int | None = None) -> Path:
        """Predicted classes on the corrupted test images, laid out like ``predictions``."""
        return self._predicted("predictions-corrupted", cell, variant, seed, ".npz")

    def predict_record(self, cell: str, variant: str) -> Path:
        """The predict stage's metrics of the first seed's ``variant`` (a seedN name for another seed's baseline)."""
        return self.reports / "predict" / cell / f"{variant}.json"

    # --- comparisons with the baseline
    def evaluate_record(self, cell: str, variant: str) -> Path:
        return self.reports / "evaluate" / cell / f"{variant}.json"

    def evaluate_details(self, cell: str, variant: str) -> Path:
        return self.reports / "evaluate" / cell / f"{variant}-details.json"

    def _saliency(self, cell: str, variant: str, seed: int | None, suffix: str) -> Path:
        folder = self.reports / "saliency" / cell
        if self._member(seed):
            return folder / MEMBERS / f"seed{seed}" / f"{variant}{suffix}"
        return folder / f"{variant}{suffix}"

    def saliency_record(self, cell: str, variant: str, seed: int | None = None) -> Path:
        """MAD and the other headline numbers of ``variant``'s maps against its own seed's baseline."""
        return self._saliency(cell, variant, seed, ".json")

    def saliency_details(self, cell: str, variant: str) -> Path:
        return self._saliency(cell, variant, None, "-details.json")

    def saliency_samples(self, cell: str, variant: str) -> Path:
        return self._saliency(cell, variant, None, "-samples.parquet")

    def saliency_figure(self, cell: str, variant: str) -> Path:
        return self._saliency(cell, variant, None, ".png")

    # --- per cell
    def verdict_details(self, cell: str) -> Path:
        return verdict_folder(self.reports) / f"{cell}-details.json"

    def population_details(self, cell: str) -> Path:
        return self.reports / "population" / f"{cell}-details.json"

    def population_gallery(self, cell: str) -> Path:
        return self.reports / "population" / f"{cell}-exemplars.png"


def verdict_folder(reports: Path) -> Path:
    return reports / "verdict"


def verdict_files(reports: Path) -> list[Path]:
    """Every cell's verdict table present under ``reports``, whatever params.yaml names now (the gate command
    reads them before it knows the project's seeds)."""
    folder = verdict_folder(reports)
    return sorted(folder.glob("*-details.json")) if folder.is_dir() else []
