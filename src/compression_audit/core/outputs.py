"""Reading another stage's JSON output, with the error a user can act on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compression_audit.core.errors import UserError


def read_stage_json(path: Path, stage: str, consumer: str) -> dict[str, Any]:
    """``path``'s JSON, written by the ``stage`` stage and needed by ``consumer`` (e.g. "the report")."""
    if not path.is_file():
        raise UserError(f"{path} is missing; run `dvc repro` so the {stage} stage makes it before {consumer}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); rerun the {stage} stage that makes it") from exc
