"""The deployment verdict: params.yaml's `gate:` criteria applied to one cell's evaluate and saliency outputs.

Every criterion is "measured value <= threshold" (a value exactly at its threshold passes). The measured
values are taken from the evaluate stage's headline and per-class results and the saliency stage's MAD; the
noise floor of each is the same number for another seed's baseline (the first `seedN` in evaluate.variants),
the change that retraining alone causes. Two criteria are defined relative to that floor; without a floor
they cannot be decided and count as failed, so a verdict never passes on a missing measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from compression_audit.core.atomic import write_json
from compression_audit.core.config import GateConfig, Params, is_noise_floor
from compression_audit.core.errors import UserError
from compression_audit.core.layout import Layout, cell_name, verdict_files, verdict_folder
from compression_audit.core.outputs import read_stage_json
from compression_audit.core.progress import log

PASS, FAIL, NO_FLOOR, NO_DATA = "PASS", "FAIL", "NO FLOOR", "NO DATA"
# values are compared as recorded (6 decimals): 100 * (0.89 - 0.90) must be the 1.0 pp it is shown as
DECIMALS = 6


@dataclass(frozen=True)
class Measures:
    """The numbers one comparison (a variant, or another seed, against the baseline) contributes to the gate."""

    accuracy_drop_pp: float  # positive = the variant is less accurate
    flip_pct: float
    negative_flip_pct: float
    class_drop_pp: float  # largest recall drop among classes significant after Holm; 0 if none dropped significantly
    class_drop_name: str | None
    delta_ece: float  # positive = worse calibrated
    mad_pct: float | None  # saliency MAD (first method); None when saliency was not computed


@dataclass(frozen=True)
class Criterion:
    name: str
    threshold_key: str  # the gate.* key
    unit: str
    evidence: str  # the report section that shows the measurement
    description: str
    value: Callable[[Measures, Measures | None], float | str]  # a string: why it cannot be decided (a status)
    floor: Callable[[Measures], float | None]


def _ratio(m: Measures, f: Measures | None) -> float | str:
    if m.flip_pct == 0:
        return 0.0  # no flip is within any floor, even a floor of no flips
    if f is None or f.flip_pct <= 0:
        return NO_FLOOR
    return m.flip_pct / f.flip_pct


def _mad_above(m: Measures, f: Measures | None) -> float | str:
    if m.mad_pct is None:
        return NO_DATA  # the variant's saliency was not computed
    if f is None or f.mad_pct is None:
        return NO_FLOOR
    return m.mad_pct - f.mad_pct


CRITERIA: tuple[Criterion, ...] = (
    Criterion("accuracy_drop", "max_accuracy_drop_pp", "pp", "overall",
              "test accuracy lost against the baseline",
              lambda m, f: m.accuracy_drop_pp, lambda f: f.accuracy_drop_pp),
    Criterion("flip_rate", "max_flip_pct", "%", "overall",
              "test predictions that differ from the baseline's",
              lambda m, f: m.flip_pct, lambda f: f.flip_pct),
    Criterion("flip_vs_noise", "max_flip_x_noise", "× floor", "overall",
              "flip rate as a multiple of another seed's flip rate",
              _ratio, lambda f: f.flip_pct),
    Criterion("class_drop", "max_class_drop_pp", "pp", "classes",
              "largest recall drop of a class whose change is significant (McNemar, Holm)",
              lambda m, f: m.class_drop_pp, lambda f: f.class_drop_pp),
    Criterion("delta_ece", "max_delta_ece", "ECE", "calibration",
              "increase of expected calibration error",
              lambda m, f: m.delta_ece, lambda f: f.delta_ece),
    Criterion("negative_flip_rate", "max_negative_flip_pct", "%", "overall",
              "test images the baseline got right and the variant gets wrong",
              lambda m, f: m.negative_flip_pct, lambda f: f.negative_flip_pct),
    Criterion("saliency_mad_above_noise", "max_mad_above_noise_pct", "pp", "saliency",
              "saliency MAD minus another seed's saliency MAD",
              _mad_above, lambda f: f.mad_pct),
)


def measures(evaluate_details: dict[str, Any], saliency_metrics: dict[str, Any] | None, method: str) -> Measures:
    """Measures of one comparison from its evaluate details JSON and saliency metrics JSON."""
    dropped = [r for r in evaluate_details["per_class"] if r["significant"] and r["delta_pp"] < 0]
    worst = min(dropped, key=lambda r: r["delta_pp"], default=None)
    mad = None
    if saliency_metrics is not None and method in saliency_metrics:
        mad = float(saliency_metrics[method]["mad_pct"])
    return Measures(
        accuracy_drop_pp=-float(evaluate_details["delta_accuracy_pp"]),
        flip_pct=100.0 * float(evaluate_details["flip_rate"]),
        negative_flip_pct=100.0 * float(evaluate_details["negative_flip_rate"]),
        class_drop_pp=0.0 if worst is None else -float(worst["delta_pp"]),
        class_drop_name=None if worst is None else worst.get("name", str(worst["class"])),
        delta_ece=float(evaluate_details["delta_ece"]),
        mad_pct=mad,
    )


def judge(m: Measures, floor: Measures | None, gate: GateConfig) -> dict[str, Any]:
    """Every criterion's value, threshold, noise floor and status, and the overall verdict, for one variant."""
    rows = {}
    for c in CRITERIA:
        value = c.value(m, floor)
        threshold = getattr(gate, c.threshold_key)
        if isinstance(value, str):
            status, value = value, None
        else:  # NaN (a metric that could not be computed) fails: it is not <= anything
            value = round(value, DECIMALS)
            status = PASS if value <= threshold else FAIL
        rows[c.name] = {
            "value": value, "threshold": threshold, "unit": c.unit,
            "noise_floor": None if floor is None or c.floor(floor) is None else round(c.floor(floor), DECIMALS),
            "status": status, "gate_key": f"gate.{c.threshold_key}", "evidence": c.evidence,
            "description": c.description,
        }
    if m.class_drop_name is not None:
        rows["class_drop"]["class"] = m.class_drop_name
    failing = [name for name, r in rows.items() if r["status"] != PASS]
    return {"verdict": PASS if not failing else FAIL, "failing": failing, "criteria": rows}


def _read(path: Path, stage: str) -> dict[str, Any]:
    return read_stage_json(path, stage, "the verdict")


def cell_verdict(params: Params, dataset: str, model: str, reports: Path, details_out: Path,
                 metrics_out: Path) -> dict[str, Any]:
    """Judge every compressed variant of one cell from its evaluate and saliency outputs under ``reports``; write
    the full table and the compact per-variant verdicts."""
    params.dataset(dataset)
    params.model(model)
    method = params.saliency.methods[0]
    layout, cell = Layout(params.seeds[0], reports), cell_name(dataset, model)

    def comparison(variant: str) -> Measures:
        sal = layout.saliency_record(cell, variant)
        return measures(_read(layout.evaluate_details(cell, variant), "evaluate"),
                        _read(sal, "saliency") if sal.is_file() else None, method)

    floors = [v for v in params.evaluate.variants if is_noise_floor(v)]
    floor_name = next((v for v in floors if layout.evaluate_details(cell, v).is_file()), None)
    floor = comparison(floor_name) if floor_name else None
    variants = [v for v in params.evaluate.variants if not is_noise_floor(v)]  # none: an empty verdict
    result = {v: judge(comparison(v), floor, params.gate) for v in variants}
    full = {"dataset": dataset, "model": model, "baseline": params.baseline, "noise_floor": floor_name,
            "saliency_method": method, "gate": params.gate.as_dict(), "variants": result}
    compact = {v: {"verdict": r["verdict"], "failing": ", ".join(r["failing"]) or "-"} for v, r in result.items()}
    write_json(details_out, full)
    write_json(metrics_out, compact)
    for v, r in result.items():
        log(f"verdict {dataset}/{model} {v}: {r['verdict']}" + (f" ({', '.join(r['failing'])})" if r["failing"] else ""))
    if floor is None:
        log(f"verdict {dataset}/{model}: no noise floor (no evaluated seedN in evaluate.variants); "
            "the criteria relative to it cannot pass")
    return full


STATUSES = (PASS, FAIL, NO_FLOOR, NO_DATA)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_verdict(path: Path, data: Any) -> None:
    """Refuse a verdict table whose parts disagree: every criterion's status is derived again from its value and
    the threshold, every variant's failing list and verdict from those statuses, and every threshold must be the
    table's own gate setting. A value of an unexpected type or name is unreadable, never trusted."""

    def bad(where: str, what: str) -> UserError:
        return UserError(f"cannot read the verdict {path}: {where}{what}; the file is damaged or was edited: "
                         "rerun `dvc repro` to judge again")

    if not isinstance(data, dict) or not isinstance(data.get("variants"), dict) or not isinstance(data.get("gate"), dict):
        raise bad("", "it is not a verdict table (no variants or gate mapping)")
    gate = data["gate"]
    names = [c.name for c in CRITERIA]
    for variant, result in data["variants"].items():
        where = f"variant {variant!r}: "
        if not isinstance(result, dict) or not isinstance(result.get("criteria"), dict):
            raise bad(where, "no criteria")
        rows = result["criteria"]
        if sorted(rows) != sorted(names):
            raise bad(where, f"criteria {sorted(rows)} are not the gate's {names}")
        for c in CRITERIA:
            row, key = rows[c.name], c.threshold_key
            if not isinstance(row, dict) or row.get("gate_key") != f"gate.{key}":
                raise bad(where, f"criterion {c.name} is not judged against gate.{key}")
            threshold, value, status = row.get("threshold"), row.get("value"), row.get("status")
            if not _number(threshold) or not _number(gate.get(key)) or threshold != gate[key]:
                raise bad(where, f"criterion {c.name}: threshold {threshold!r} is not the table's gate.{key} "
                                 f"{gate.get(key)!r}")
            if status not in STATUSES:
                raise bad(where, f"criterion {c.name}: unknown status {status!r}")
            if value is None:
                derived = status if status in (NO_FLOOR, NO_DATA) else None
            elif _number(value):
                derived = PASS if value <= threshold else FAIL  # NaN fails, as in judge()
            else:
                derived = None
            if derived != status:
                raise bad(where, f"criterion {c.name}: value {value!r} against threshold {threshold!r} is not "
                                 f"{status!r}")
        failing = [c.name for c in CRITERIA if rows[c.name]["status"] != PASS]
        if result.get("failing") != failing:
            raise bad(where, f"failing criteria {result.get('failing')!r}, but its criteria say {failing}")
        if result.get("verdict") != (PASS if not failing else FAIL):
            raise bad(where, f"verdict {result.get('verdict')!r}, but its criteria say {PASS if not failing else FAIL}")


def read_verdicts(reports: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every cell's full verdict table under ``reports``, by the cell it names: (file, table). Read, not yet
    trusted: ``check_verdict`` is for the tables a caller uses."""
    files = verdict_files(reports)
    if not files:
        raise UserError(f"no verdict under {verdict_folder(reports)}; run `dvc repro` (the verdict stage writes it)")
    out = {}
    for path in files:
        data = _read(path, "verdict")
        out[f"{data['dataset']}-{data['model']}"] = (path, data)
    return out
