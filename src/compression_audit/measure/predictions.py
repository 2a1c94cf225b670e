"""Per-sample predictions of one model on a test set, as a Parquet file pandas opens directly.

One row per test sample: ``sample`` (index in the prepared test split), ``variant``, ``label``,
``prediction``, ``confidence`` (max probability), ``p_true`` (probability of the label),
``entropy`` (nats), and the full ``probs`` and ``logits`` vectors (fixed-size lists). Logits are
kept because log-probabilities recomputed from float32 probabilities underflow to -inf, which
would make KL divergences infinite. ``pd.read_parquet(<dir>)`` on a cell's directory reads all
variants at once in long format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from compression_audit.core.atomic import atomic_path
from compression_audit.core.errors import UserError
from compression_audit.measure.metrics import Predictions, entropy

FORMAT = "compression-audit/predictions-v1"


def predictions_table(variant: str, preds: Predictions, class_names: tuple[str, ...], info: dict[str, Any]) -> pa.Table:
    n, k = preds.logits.shape
    log_p = preds.log_probs
    probs = np.exp(log_p)
    pred = preds.prediction
    flat = lambda a: pa.FixedSizeListArray.from_arrays(pa.array(a.astype(np.float32).reshape(-1)), k)  # noqa: E731
    table = pa.table({
        "sample": pa.array(np.arange(n, dtype=np.int32)),
        "variant": pa.array([variant] * n).dictionary_encode(),
        "label": pa.array(preds.labels.astype(np.int16)),
        "prediction": pa.array(pred.astype(np.int16)),
        "confidence": pa.array(probs.max(axis=1).astype(np.float32)),
        "p_true": pa.array(probs[np.arange(n), preds.labels].astype(np.float32)),
        "entropy": pa.array(entropy(log_p).astype(np.float32)),
        "probs": flat(probs),
        "logits": flat(preds.logits),
    })
    meta = {"format": FORMAT, "variant": variant, "class_names": list(class_names), "info": info}
    return table.replace_schema_metadata({b"compression_audit": json.dumps(meta).encode()})


def write_predictions(path: str | Path, variant: str, preds: Predictions, class_names: tuple[str, ...],
                      info: dict[str, Any]) -> None:
    table = predictions_table(variant, preds, class_names, info)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_predictions(path: str | Path) -> tuple[Predictions, dict[str, Any]]:
    """(predictions, metadata) of a file written by :func:`write_predictions`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist; run `dvc repro` so the predict stage makes it first")
    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {}).get(b"compression_audit", b"{}"))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UserError(f"{path} is not a readable Parquet file ({exc}); rerun the predict stage that makes it") from exc
    if meta.get("format") != FORMAT:
        raise UserError(f"{path} is not a {FORMAT} file; rerun the predict stage that makes it")
    k = len(meta["class_names"])
    logits = table.column("logits").combine_chunks().flatten().to_numpy().reshape(-1, k)
    labels = table.column("label").to_numpy().astype(np.int64)
    return Predictions(labels=labels, logits=logits), meta
