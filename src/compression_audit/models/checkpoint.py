"""Self-describing checkpoints that load with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors, strings, numbers, lists and dicts: loading it
never unpickles code, and it says which architecture, classes and params made it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from compression_audit.core.atomic import atomic_path
from compression_audit.core.errors import UserError
from compression_audit.models.networks import BUILTIN, Classifier, ModelRegistry

FORMAT = "compression-audit/checkpoint-v1"


def model_header(model: Classifier, class_names: tuple[str, ...], info: dict[str, Any]) -> dict[str, Any]:
    """What every saved model says about itself: architecture, classes, input normalization, provenance."""
    return {
        "arch": model.arch,
        "builder": model.builder,  # provenance only: an own model is rebuilt from params.yaml's builder, never this
        "num_classes": model.num_classes,
        "class_names": list(class_names),
        "mean": model.normalize.mean.flatten().tolist(),
        "std": model.normalize.std.flatten().tolist(),
        # A JSON round trip keeps only plain types (a TorchVersion or numpy scalar would make
        # the file unloadable with weights_only=True).
        "info": json.loads(json.dumps(info)),
    }


def write_payload(path: str | Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        # A file object, not the path: torch.save names the zip's root folder after the file, and the
        # temporary's random name would make identical models differ byte for byte.
        torch.save(payload, f)


def _reason(exc: Exception) -> str:
    """The part of torch's refusal that says what was found. Its text also suggests weights_only=False,
    which is exactly the advice a user must not follow for a file of unknown origin."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = next((line for line in lines if line.startswith(("Unsupported", "WeightsUnpickler error: U"))), None)
    if detail is None and lines and "weights_only" not in lines[0]:
        detail = lines[0]
    if detail:
        detail = detail.split(". Please use")[0]  # torch goes on to explain how to allow-list the global
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def read_payload(path: str | Path, expected_format: str | tuple[str, ...], made_by: str,
                 registry: ModelRegistry = BUILTIN) -> dict[str, Any]:
    """A saved payload of ``expected_format`` (or one of several) of a model ``registry`` can build; refuses anything
    that needs unpickling of code."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist; run `dvc repro` so the {made_by} stage makes it first")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantized tensors' deprecation notices
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or EOFError depending on the damage
        raise UserError(
            f"refusing to load {path}: it is not a plain-data checkpoint ({_reason(exc)}); it was not executed. "
            "Only files written by this pipeline are accepted: rerun the stage that makes it"
        ) from exc
    formats = (expected_format,) if isinstance(expected_format, str) else expected_format
    if not isinstance(payload, dict) or payload.get("format") not in formats:
        raise UserError(f"{path} is not a {' or '.join(formats)} file; rerun the {made_by} stage that makes it")
    if payload.get("arch") not in registry.names():
        raise UserError(f"{path} holds unknown architecture {payload.get('arch')!r}; valid: {', '.join(registry.names())} "
                        "(an own model must be declared in params.yaml's models with its builder)")
    return payload


def save_checkpoint(path: str | Path, model: Classifier, class_names: tuple[str, ...], info: dict[str, Any]) -> None:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    write_payload(path, {"format": FORMAT, **model_header(model, class_names, info), "state_dict": state})


def load_checkpoint(path: str | Path, registry: ModelRegistry = BUILTIN) -> dict[str, Any]:
    """The raw payload of a float checkpoint."""
    return read_payload(path, FORMAT, "train or prune", registry)


def load_classifier(
    path: str | Path, expect_arch: str | None = None, expect_classes: int | None = None,
    registry: ModelRegistry = BUILTIN,
) -> tuple[Classifier, dict[str, Any]]:
    """Rebuild the model of a checkpoint, checking it is the architecture and class count the caller expects."""
    return classifier_from_payload(path, load_checkpoint(path, registry), expect_arch, expect_classes, registry)


def check_header(path: str | Path, payload: dict[str, Any], expect_arch: str | None, expect_classes: int | None) -> None:
    """Refuse a model of another architecture or class count than the caller's."""
    if expect_arch is not None and payload["arch"] != expect_arch:
        raise UserError(f"{path} holds a {payload['arch']} model, but this stage expects {expect_arch}; check the stage's inputs")
    if expect_classes is not None and payload["num_classes"] != expect_classes:
        raise UserError(
            f"{path} was trained for {payload['num_classes']} classes, but the data has {expect_classes}; "
            "retrain on this dataset"
        )


def classifier_from_payload(path: str | Path, payload: dict[str, Any], expect_arch: str | None = None,
                            expect_classes: int | None = None,
                            registry: ModelRegistry = BUILTIN) -> tuple[Classifier, dict[str, Any]]:
    check_header(path, payload, expect_arch, expect_classes)
    model = Classifier(payload["arch"], payload["num_classes"], payload["mean"], payload["std"], registry)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise UserError(f"{path}: weights do not fit a {payload['arch']} with {payload['num_classes']} classes "
                        f"({str(exc).splitlines()[0]}); rerun the stage that makes it") from exc
    model.eval()
    return model, payload

