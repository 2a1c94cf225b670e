"""The corrupt stage's work: one dataset's test split -> its corrupted copies, made once and shared by every
model and variant (a cached DVC output, so a parameter change elsewhere never rebuilds them).

Layout of the output directory: ``images.npy`` (corruptions, severities, N, H, W, 3) uint8, ``labels.npy``
(N,) int64, and ``meta.json`` with the corruption names in array order, their strengths, the seed and the
test-split indices of the N images.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compression_audit.core.atomic import atomic_dir
from compression_audit.core.config import Params
from compression_audit.core.environment import environment
from compression_audit.core.errors import UserError
from compression_audit.core.progress import log
from compression_audit.data.prepared import load_prepared
from compression_audit.data.splits import stratified_subset

FORMAT = "compression-audit-corrupted/1"


@dataclass(frozen=True)
class CorruptedSet:
    images: np.ndarray  # (K, S, N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64
    kinds: dict[str, list[float]]  # name -> strength per severity, in array order
    indices: np.ndarray  # (N,) indices into the test split


def drawn_from(test_labels: np.ndarray, indices: np.ndarray, subset_labels: np.ndarray) -> bool:
    """Whether a subset with these test-split ``indices`` and labels can have come from ``test_labels``."""
    return bool(indices.max(initial=-1) < len(test_labels) and np.array_equal(test_labels[indices], subset_labels))


def make_corrupted(params: Params, dataset: str, data_dir: Path, out: Path) -> dict:
    # here, not at the top: the corruptions need scipy.ndimage and matplotlib, which the stages that only read a
    # corrupted set (predict, evaluate, population) would otherwise import at every start
    from compression_audit.data.corruptions import corrupted_sets

    cfg = params.corruptions
    data = load_prepared(data_dir)
    labels = data.labels["test"]
    indices = stratified_subset(labels, cfg.images, cfg.seed)
    clean = data.images["test"][indices]
    kinds = {k: list(v) for k, v in cfg.kinds.items()}
    log(f"corrupt {dataset}: {len(indices)} of {len(labels)} test images x {len(kinds)} corruptions x "
        f"{len(next(iter(kinds.values())))} severities")
    start = time.perf_counter()
    sets = corrupted_sets(clean, kinds, cfg.seed,
                          progress=lambda name: log(f"  {name} done ({time.perf_counter() - start:.1f} s)"))
    stacked = np.stack([sets[k] for k in kinds])
    meta = {
        "format": FORMAT, "dataset": dataset, "seed": cfg.seed, "kinds": kinds,
        "n": int(len(indices)), "indices": indices.tolist(), "env": environment({}),
        "timing": {"seconds": round(time.perf_counter() - start, 2)},
    }
    with atomic_dir(out) as tmp:
        np.save(tmp / "images.npy", stacked)
        np.save(tmp / "labels.npy", labels[indices].astype(np.int64))
        (tmp / "meta.json").write_text(json.dumps(meta) + "\n")
    log(f"corrupt {dataset}: {stacked.nbytes / 2**20:.0f} MiB in {meta['timing']['seconds']} s -> {out}")
    return meta


def load_corrupted(path: Path, test_labels: np.ndarray, test_source: Path) -> CorruptedSet:
    """The corrupted set at ``path``, refused unless it was drawn from ``test_labels`` (those of ``test_source``)."""
    meta_path = Path(path) / "meta.json"
    if not meta_path.is_file():
        raise UserError(f"corrupted test set {path} is missing (no meta.json); run `dvc repro` so the corrupt stage makes it")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise UserError(f"{meta_path} has format {meta.get('format')!r}, expected {FORMAT!r}; rerun the corrupt stage")
    try:
        images = np.load(Path(path) / "images.npy", allow_pickle=False)
        labels = np.load(Path(path) / "labels.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"corrupted test set {path} is incomplete or damaged ({exc}); rerun the corrupt stage") from exc
    if images.dtype != np.uint8 or images.ndim != 6 or images.shape[:1] != (len(meta["kinds"]),) \
            or images.shape[2] != len(labels):
        raise UserError(f"corrupted test set {path} has shape {images.shape} {images.dtype}; rerun the corrupt stage")
    indices = np.asarray(meta["indices"], dtype=np.int64)
    if not drawn_from(test_labels, indices, labels):
        raise UserError(f"{path} was not made from {test_source}'s test split; rerun the corrupt stage")
    return CorruptedSet(images, labels, meta["kinds"], indices)
