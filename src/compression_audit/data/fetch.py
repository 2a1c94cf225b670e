"""The fetch stage's work: get one dataset (download or local import), split it, write the prepared format."""

from __future__ import annotations

import os
import time
from pathlib import Path

from compression_audit.core.atomic import write_json
from compression_audit.core.config import Params
from compression_audit.core.environment import environment
from compression_audit.core.progress import log
from compression_audit.data.datasets import DatasetSpec, get_dataset_spec
from compression_audit.data.download import download
from compression_audit.data.imagefolder import find_local_source, import_local, import_own
from compression_audit.data.prepared import RawSplit, prepare, save_prepared

# Machines without internet can point every fetch at local copies without editing params.yaml.
LOCAL_DIR_ENV = "COMPRESSION_AUDIT_DATA_DIR"
# the validation split holds out whole groups and leaves at least one in training
MIN_GROUPS_PER_CLASS = 2


def resolve_source(params: Params) -> tuple[str, str | None]:
    """("download", None) or ("local", directory); the environment variable overrides params."""
    if env := os.environ.get(LOCAL_DIR_ENV):
        return "local", env
    if params.data.source == "local":
        return "local", params.data.local_dir
    return "download", None


def fetch_dataset(params: Params, name: str, out: Path, report: Path, raw_dir: Path) -> dict:
    cfg = params.dataset(name)
    start = time.perf_counter()
    if cfg.imagefolder is not None:
        # an own dataset is always a local ImageFolder; COMPRESSION_AUDIT_DATA_DIR only redirects the built-ins
        source = Path(cfg.imagefolder)
        log(f"importing own dataset {name} from {source} (any size and mode -> 32x32 RGB)")
        spec, train, test = import_own(source, name, Path(cfg.names_file) if cfg.names_file else None,
                                       cfg.group_pattern, MIN_GROUPS_PER_CLASS, cfg.archive_sha256 if source.is_file() else None)
        return _finish(params, name, spec, train, test, str(source), out, report, start)
    spec = get_dataset_spec(name)
    kind, local_dir = resolve_source(params)
    if kind == "local":
        source = find_local_source(local_dir, name)
        log(f"importing {name} from {source}")
        train, test = import_local(source, spec, params.data.resize, cfg.archive_sha256 if source.is_file() else None)
        origin = str(source)
    else:
        log(f"downloading {name} into {raw_dir / name} (torchvision, checksums verified)")
        train, test = download(spec, raw_dir / name)
        origin = "torchvision download"
    return _finish(params, name, spec, train, test, origin, out, report, start)


def _finish(params: Params, name: str, spec: DatasetSpec, train: RawSplit, test: RawSplit, origin: str, out: Path,
            report: Path, start: float) -> dict:
    data = prepare(spec, train, test, params.data.val_fraction, params.data.split_seed)
    meta = save_prepared(
        out, data,
        {"split": {"val_fraction": params.data.val_fraction, "seed": params.data.split_seed, "by": spec.split_by}},
    )
    summary = {
        "dataset": name,
        "source": origin,
        "n_train": meta["counts"]["train"],
        "n_val": meta["counts"]["val"],
        "n_test": meta["counts"]["test"],
        "env": environment({}),
        "timing": {"seconds": round(time.perf_counter() - start, 2)},
    }
    write_json(report, summary)
    log(f"{name}: train {summary['n_train']}, val {summary['n_val']}, test {summary['n_test']} -> {out}")
    return summary
