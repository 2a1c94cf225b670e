"""The deployment gate: each criterion at, just under and just over its threshold; the noise-floor rules; the
verdict files from hand-made evaluate/saliency outputs; the `compression-audit gate` command's exit codes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compression_audit.command import app
from compression_audit.core.config import GateConfig, load_params
from compression_audit.report.verdict import (CRITERIA, FAIL, NO_DATA, NO_FLOOR, PASS, Measures, cell_verdict, judge,
    measures)

REPO = Path(__file__).resolve().parents[1]
GATE = GateConfig(max_accuracy_drop_pp=1.0, max_flip_pct=5.0, max_flip_x_noise=0.5, max_class_drop_pp=5.0,
                  max_delta_ece=0.02, max_negative_flip_pct=2.0, max_mad_above_noise_pct=1.0)
# a variant that passes everything comfortably, and a floor with a 10 % flip rate and 8 % saliency MAD
GOOD = Measures(accuracy_drop_pp=0.1, flip_pct=1.0, negative_flip_pct=0.5, class_drop_pp=0.0, class_drop_name=None,
                delta_ece=0.001, mad_pct=5.0)
FLOOR = Measures(accuracy_drop_pp=-0.2, flip_pct=10.0, negative_flip_pct=4.0, class_drop_pp=3.0, class_drop_name="cat",
                 delta_ece=-0.003, mad_pct=8.0)
EPS = 1e-4  # above the 6 recorded decimals, also for the flip ratio (EPS / 10)

# criterion -> (field of Measures to set, value that lands exactly on GATE's threshold)
AT_THRESHOLD = {
    "accuracy_drop": ("accuracy_drop_pp", 1.0),
    "flip_rate": ("flip_pct", 5.0),
    "flip_vs_noise": ("flip_pct", 5.0),  # 5 % / floor 10 % = 0.5x; (flip_rate's threshold is also 5 %)
    "class_drop": ("class_drop_pp", 5.0),
    "delta_ece": ("delta_ece", 0.02),
    "negative_flip_rate": ("negative_flip_pct", 2.0),
    "saliency_mad_above_noise": ("mad_pct", 9.0),  # 9 - floor 8 = 1 pp
}


def test_good_variant_passes_with_every_value_recorded():
    result = judge(GOOD, FLOOR, GATE)
    assert result["verdict"] == PASS and result["failing"] == []
    rows = result["criteria"]
    assert set(rows) == {c.name for c in CRITERIA}
    assert rows["flip_vs_noise"]["value"] == pytest.approx(0.1) and rows["flip_vs_noise"]["noise_floor"] == 10.0
    assert rows["saliency_mad_above_noise"]["value"] == pytest.approx(-3.0)
    assert rows["class_drop"]["noise_floor"] == 3.0 and rows["accuracy_drop"]["noise_floor"] == -0.2
    assert rows["delta_ece"]["gate_key"] == "gate.max_delta_ece" and rows["delta_ece"]["evidence"] == "calibration"


@pytest.mark.parametrize("criterion", list(AT_THRESHOLD))
@pytest.mark.parametrize("offset,expected", [(0.0, PASS), (-EPS, PASS), (EPS, FAIL)])
def test_each_criterion_at_under_and_over_its_threshold(criterion, offset, expected):
    field, at = AT_THRESHOLD[criterion]
    scale = 10.0 if criterion == "flip_vs_noise" else 1.0  # the ratio moves by offset / floor
    m = dataclasses.replace(GOOD, **{field: at + offset * scale})
    result = judge(m, FLOOR, GATE)
    assert result["criteria"][criterion]["status"] == expected, result["criteria"][criterion]
    assert result["verdict"] == expected
    # GATE puts flip_rate and flip_vs_noise at the same flip rate (5 % = 0.5 x the 10 % floor): they move together
    moved = {criterion} | ({"flip_rate", "flip_vs_noise"} if criterion.startswith("flip") else set())
    assert result["failing"] == ([] if expected == PASS else [c.name for c in CRITERIA if c.name in moved])


def test_values_are_judged_as_recorded_not_with_float_noise():
    """100 * (0.89 - 0.90) is -1.0000000000000009 in floats: a 1.00 pp drop must pass a 1.0 pp threshold."""
    details = {"delta_accuracy_pp": 100 * (0.89 - 0.90), "flip_rate": 0.07, "negative_flip_rate": 0.02,
               "delta_ece": 0.02, "per_class": [{"class": 0, "name": "a", "delta_pp": 100 * (0.85 - 0.90), "significant": True}]}
    gate = dataclasses.replace(GATE, max_flip_pct=7.0, max_class_drop_pp=5.0)
    m = measures(details, {"saliency": {"mad_pct": 5.0}}, "saliency")
    assert m.accuracy_drop_pp > 1.0 and m.flip_pct > 7.0  # the float noise this test is about
    rows = judge(m, FLOOR, gate)["criteria"]
    for name in ("accuracy_drop", "flip_rate", "class_drop", "negative_flip_rate", "delta_ece"):
        assert rows[name]["status"] == PASS, (name, rows[name])


def test_without_a_noise_floor_the_relative_criteria_cannot_pass():
    result = judge(GOOD, None, GATE)
    assert result["verdict"] == FAIL
    assert result["failing"] == ["flip_vs_noise", "saliency_mad_above_noise"]
    assert {result["criteria"][n]["status"] for n in result["failing"]} == {NO_FLOOR}
    assert result["criteria"]["accuracy_drop"]["noise_floor"] is None
    zero_flip_floor = dataclasses.replace(FLOOR, flip_pct=0.0)  # a ratio to 0 flips is undefined, not infinite
    assert judge(GOOD, zero_flip_floor, GATE)["criteria"]["flip_vs_noise"]["status"] == NO_FLOOR
    no_flips = dataclasses.replace(GOOD, flip_pct=0.0, negative_flip_pct=0.0)  # ... unless nothing flipped at all
    assert judge(no_flips, zero_flip_floor, GATE)["criteria"]["flip_vs_noise"]["status"] == PASS
    assert judge(no_flips, None, GATE)["criteria"]["flip_vs_noise"]["status"] == PASS
    no_saliency = dataclasses.replace(GOOD, mad_pct=None)
    result = judge(no_saliency, FLOOR, GATE)
    assert result["failing"] == ["saliency_mad_above_noise"]
    assert result["criteria"]["saliency_mad_above_noise"]["status"] == NO_DATA


def test_a_significant_class_drop_names_the_class():
    m = dataclasses.replace(GOOD, class_drop_pp=12.5, class_drop_name="stop")
    result = judge(m, FLOOR, GATE)
    assert result["failing"] == ["class_drop"] and result["criteria"]["class_drop"]["class"] == "stop"


def _details(delta_acc_pp, flip, neg, ece, per_class):
    return {"delta_accuracy_pp": delta_acc_pp, "flip_rate": flip, "negative_flip_rate": neg, "delta_ece": ece,
            "per_class": per_class}


def _klass(i, name, delta, significant):
    return {"class": i, "name": name, "delta_pp": delta, "significant": significant}


def write_cell(reports: Path, variants: dict[str, tuple[dict, float]]) -> Path:
    """The evaluate and saliency outputs of cell gtsrb-lenet5 under ``reports``, where dvc.yaml puts them."""
    ev, sal = reports / "evaluate" / "gtsrb-lenet5", reports / "saliency" / "gtsrb-lenet5"
    ev.mkdir(parents=True)
    sal.mkdir(parents=True)
    for name, (details, mad) in variants.items():
        (ev / f"{name}-details.json").write_text(json.dumps(details))
        (sal / f"{name}.json").write_text(json.dumps({"saliency": {"mad_pct": mad}}))
    return reports


def hand_made_cell(root: Path, with_floor: bool = True) -> Path:
    """A cell whose w8a8 passes the default gate and whose pruned model fails two criteria by known margins."""
    floor = _details(0.3, 0.10, 0.04, 0.001, [_klass(0, "a", -2.0, False), _klass(1, "b", 2.0, False)])
    good = _details(-0.2, 0.02, 0.01, 0.002, [_klass(0, "a", 1.0, False), _klass(1, "b", -1.0, False)])
    bad = _details(-0.5, 0.06, 0.03, 0.004,
                   [_klass(0, "a", -9.0, True), _klass(1, "b", -20.0, False), _klass(2, "c", 3.0, True)])
    variants = {"w8a8": (good, 4.0), "w4a8": (good, 4.0), "w8a8_qat": (good, 4.0), "w4a8_qat": (good, 4.0), "pruned": (bad, 6.0), "pruned_w8a8": (good, 5.0)}
    if with_floor:
        variants["seed1"] = (floor, 6.0)
    return write_cell(root, variants)


def test_cell_verdict_from_hand_made_outputs(tmp_path):
    params = load_params(REPO / "params.yaml")
    reports = hand_made_cell(tmp_path / "reports")
    full = cell_verdict(params, "gtsrb", "lenet5", reports, tmp_path / "v-details.json", tmp_path / "v.json")
    assert full["noise_floor"] == "seed1" and set(full["variants"]) == {"w8a8", "w4a8", "w8a8_qat", "w4a8_qat", "pruned", "pruned_w8a8"}
    pruned = full["variants"]["pruned"]
    # 6 % flips vs a 10 % floor = 0.6x passes; 3 % negative flips > 2 %; the largest *significant* drop is class a
    # (9 pp; class b's 20 pp is not significant); saliency MAD 6 - 6 = 0 pp, exactly at the threshold: passes
    assert pruned["failing"] == ["class_drop", "negative_flip_rate"]
    assert pruned["criteria"]["class_drop"]["value"] == 9.0 and pruned["criteria"]["class_drop"]["class"] == "a"
    assert pruned["criteria"]["flip_vs_noise"]["value"] == pytest.approx(0.6)
    assert pruned["criteria"]["saliency_mad_above_noise"]["status"] == PASS
    assert full["variants"]["w8a8"]["verdict"] == PASS
    compact = json.loads((tmp_path / "v.json").read_text())
    assert compact == {"w8a8": {"verdict": "PASS", "failing": "-"}, "w4a8": {"verdict": "PASS", "failing": "-"},
                       "w8a8_qat": {"verdict": "PASS", "failing": "-"}, "w4a8_qat": {"verdict": "PASS", "failing": "-"},
                       "pruned": {"verdict": "FAIL", "failing": "class_drop, negative_flip_rate"},
                       "pruned_w8a8": {"verdict": "PASS", "failing": "-"}}
    assert json.loads((tmp_path / "v-details.json").read_text())["gate"] == params.gate.as_dict()


def _reports_with_verdict(tmp_path: Path) -> Path:
    params = load_params(REPO / "params.yaml")
    reports = hand_made_cell(tmp_path / "reports")
    cell_verdict(params, "gtsrb", "lenet5", reports, reports / "verdict/gtsrb-lenet5-details.json",
                 reports / "verdict/gtsrb-lenet5.json")
    return reports


@pytest.mark.parametrize("args,code,shown", [
    (["--variant", "w8a8"], 0, "1 of 1 variant(s) pass"),
    (["--variant", "w8a8", "--variant", "pruned_w8a8"], 0, "2 of 2 variant(s) pass"),
    (["--variant", "pruned"], 1, "FAIL: gtsrb-lenet5 pruned"),
    ([], 1, "5 of 6 variant(s) pass"),
    (["--cell", "gtsrb-lenet5", "--variant", "pruned"], 1, "negative_flip_rate"),
    (["--variant", "w2a8"], 2, "no verdict for variant(s) w2a8"),
    (["--cell", "cifar10-lenet5"], 2, "no verdict for cell(s) cifar10-lenet5"),
])
def test_gate_command_exit_codes(tmp_path, args, code, shown):
    reports = _reports_with_verdict(tmp_path)
    result = CliRunner().invoke(app, ["gate", "--reports", str(reports), "--params", str(REPO / "params.yaml"), *args])
    assert result.exit_code == code, result.output
    assert shown in result.output


def test_gate_command_prints_failing_criteria_only_unless_all(tmp_path):
    reports = _reports_with_verdict(tmp_path)
    params = ["--params", str(REPO / "params.yaml")]
    failing = CliRunner().invoke(app, ["gate", "--reports", str(reports), "--variant", "pruned", *params]).output
    assert "class_drop (a)" in failing and "9.00 pp" in failing and "accuracy_drop" not in failing
    every = CliRunner().invoke(app, ["gate", "--reports", str(reports), "--variant", "pruned", "--all", *params]).output
    assert "accuracy_drop" in every and "0.50 pp" in every


def test_gate_command_refuses_a_stale_verdict(tmp_path):
    import yaml

    reports = _reports_with_verdict(tmp_path)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["gate"]["max_negative_flip_pct"] = 5.0  # would make the pruned variant pass, but nothing was rerun
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["gate", "--reports", str(reports)])  # default: the params.yaml beside reports/
    assert result.exit_code == 2 and "gtsrb-lenet5 used other gate thresholds" in result.output


def test_gate_command_without_a_pipeline_run(tmp_path):
    result = CliRunner().invoke(app, ["gate", "--reports", str(tmp_path)])
    assert result.exit_code == 2 and "run `dvc repro`" in result.output


def test_gate_command_errors_are_never_a_pass_or_fail(tmp_path):
    reports = _reports_with_verdict(tmp_path)
    run = lambda *a: CliRunner().invoke(app, ["gate", "--reports", str(reports), *a])  # noqa: E731
    missing = run()  # default params: beside the reports folder, absent here
    assert missing.exit_code == 2 and "params.yaml not found" in missing.output
    details = reports / "verdict/gtsrb-lenet5-details.json"
    data = json.loads(details.read_text())
    del data["variants"]["pruned"]["criteria"]
    details.write_text(json.dumps(data))
    damaged = run("--params", str(REPO / "params.yaml"))
    assert damaged.exit_code == 2 and "cannot read the verdict" in damaged.output
    other_grid = json.loads(details.read_text())
    other_grid["dataset"] = "mnist"  # a cell no longer in params.yaml: ignored, so nothing is left to check
    details.write_text(json.dumps(other_grid))
    gone = run("--params", str(REPO / "params.yaml"))
    assert gone.exit_code == 2 and "no verdict for the cells of" in gone.output


def test_gate_params_are_strict(tmp_path):
    import yaml

    from compression_audit.core.config import ConfigError

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["gate"]["max_flip_pct"] = 150
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="gate.max_flip_pct: must be in"):
        load_params(tmp_path / "p.yaml")
    raw["gate"]["max_flip_pct"] = 7.5
    raw["gate"]["max_flip_rate"] = 7.5  # a typo of a key never falls back to a default
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="max_flip_rate"):
        load_params(tmp_path / "p.yaml")


def _all_pass(result):
    """Make a failing variant claim PASS everywhere, as a hand edit would."""
    for row in result["criteria"].values():
        row["status"] = PASS
    result["failing"], result["verdict"] = [], PASS


def _pass_claimed(result):
    result["failing"], result["verdict"] = [], PASS  # the criteria still say FAIL


def _threshold_loosened(result):
    _all_pass(result)
    result["criteria"]["negative_flip_rate"]["threshold"] = 50.0  # the row's own threshold, not the table's gate


def _value_as_text(result):
    _all_pass(result)
    result["criteria"]["class_drop"]["value"] = "0.0"


def _unknown_status(result):
    result["criteria"]["class_drop"]["status"] = "WAIVED"


def _criterion_missing(result):
    del result["criteria"]["class_drop"]
    result["failing"] = ["negative_flip_rate"]


def _other_gate_key(result):
    _all_pass(result)
    result["criteria"]["negative_flip_rate"]["gate_key"] = "gate.max_flip_pct"
    result["criteria"]["negative_flip_rate"]["threshold"] = 7.5


def _no_floor_claims_pass(result):
    result["criteria"]["flip_vs_noise"]["value"] = None  # an undecided criterion must not pass
    result["criteria"]["class_drop"]["status"] = result["criteria"]["negative_flip_rate"]["status"] = PASS
    result["failing"], result["verdict"] = [], PASS


def _variant_removed(variants):
    del variants["pruned"]  # the failing variant left out: the others all pass


def _variants_emptied(variants):
    variants.clear()  # nothing judged must not read as "0 of 0 pass"


@pytest.mark.parametrize("tamper", [_variant_removed, _variants_emptied])
def test_gate_command_refuses_a_verdict_that_leaves_out_a_variant(tmp_path, tamper):
    reports = _reports_with_verdict(tmp_path)
    details = reports / "verdict/gtsrb-lenet5-details.json"
    data = json.loads(details.read_text())
    tamper(data["variants"])
    details.write_text(json.dumps(data))
    for args in ([], ["--variant", "w8a8"]):
        result = CliRunner().invoke(app, ["gate", "--reports", str(reports), "--params", str(REPO / "params.yaml"), *args])
        assert result.exit_code == 2, result.output
        flat = result.output.replace("\n", "")
        assert flat.startswith("error: cannot read the verdict") and str(details) in flat and "evaluate.variants" in flat


@pytest.mark.parametrize("tamper", [_all_pass, _pass_claimed, _threshold_loosened, _value_as_text, _unknown_status,
                                    _criterion_missing, _other_gate_key, _no_floor_claims_pass])
def test_gate_command_refuses_a_verdict_whose_parts_disagree(tmp_path, tamper):
    """Each edit makes the failing pruned variant look like a PASS (or unreadable); the gate derives every verdict
    from its criteria and their thresholds again, so it exits 2 naming the file, never 0."""
    reports = _reports_with_verdict(tmp_path)
    details = reports / "verdict/gtsrb-lenet5-details.json"
    data = json.loads(details.read_text())
    tamper(data["variants"]["pruned"])
    details.write_text(json.dumps(data))
    before = sorted(p.name for p in reports.rglob("*"))
    result = CliRunner().invoke(app, ["gate", "--reports", str(reports), "--params", str(REPO / "params.yaml"),
                                      "--variant", "pruned"])
    assert result.exit_code == 2, result.output
    assert [line for line in result.output.splitlines() if line.startswith("error:")] == \
        [result.output.splitlines()[0]]
    flat = result.output.replace("\n", "")
    assert str(details) in flat and "variant 'pruned'" in flat and "rerun `dvc repro`" in flat
    assert sorted(p.name for p in reports.rglob("*")) == before  # nothing written


def test_a_verdict_written_by_the_stage_is_consistent(tmp_path):
    from compression_audit.report.verdict import check_verdict

    reports = _reports_with_verdict(tmp_path)
    details = reports / "verdict/gtsrb-lenet5-details.json"
    check_verdict(details, json.loads(details.read_text()))  # no error: judge() and the check agree


def test_gate_help_lists_the_exit_codes():
    out = " ".join(CliRunner().invoke(app, ["gate", "--help"]).output.replace("│", " ").split())
    assert "Exit status: 0 every chosen variant passes; 1 at least one fails; 2 the verdict cannot be used" in out
