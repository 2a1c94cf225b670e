"""Scale-out with DVC's own machinery, as the README's "Scale-out" section tells users to do it:

- two worker clones share one DVC remote (a local directory here), each runs a disjoint slice of the grid with
  `dvc repro --glob` and pushes its outputs and run-cache with `dvc push --run-cache`;
- a coordinator clone, which has run nothing, gets every stage from the remote with `dvc repro --pull` and
  computes only the report;
- a queued sweep, `dvc exp run --queue -S prune.amount=...` + `dvc queue start -j 2`, runs in DVC's own
  workers and reruns only what depends on pruning.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import torch
from conftest import DVC, plan, ran, restored, sh, tiny_project

pytestmark = pytest.mark.e2e

SLICES = {"cifar10": "*@cifar10*", "gtsrb": "*@gtsrb*"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale_out")
    origin = tiny_project(root)
    remote = root / "remote"
    sh(origin, DVC, "remote", "add", "-d", "shared", str(remote))
    sh(origin, "git", "commit", "-qam", "shared DVC remote")

    def work(name: str, pattern: str) -> str:
        worker = root / f"worker-{name}"
        sh(root, "git", "clone", "-q", str(origin), str(worker))
        output = sh(worker, DVC, "repro", "--glob", pattern)
        sh(worker, DVC, "push", "--run-cache")
        return output

    # the workers run at the same time, as separate machines would, and push to the remote concurrently
    with ThreadPoolExecutor(len(SLICES)) as pool:
        outputs = dict(zip(SLICES, pool.map(work, SLICES, SLICES.values())))
    coordinator = root / "coordinator"
    sh(root, "git", "clone", "-q", str(origin), str(coordinator))
    outputs["coordinator"] = sh(coordinator, DVC, "repro", "--pull")
    all_stages = set(sh(coordinator, DVC, "stage", "list", "--name-only").split())
    return coordinator, outputs, all_stages


def test_workers_run_disjoint_slices(cluster):
    _, outputs, all_stages = cluster
    cifar, gtsrb = ran(outputs["cifar10"]), ran(outputs["gtsrb"])
    assert "train@cifar10-lenet5-0" in cifar and "saliency@cifar10-lenet5-w4a8" in cifar
    assert "train@gtsrb-lenet5-1" in gtsrb and "evaluate@gtsrb-lenet5-pruned_w8a8" in gtsrb
    # the only stage both run is the params check every stage depends on; neither builds the report
    assert cifar & gtsrb == {"validate"}
    assert cifar | gtsrb == all_stages - {"report"}


def test_coordinator_restores_everything_and_computes_only_the_report(cluster):
    coordinator, outputs, all_stages = cluster
    out = outputs["coordinator"]
    assert ran(out) == {"report"}, out
    assert restored(out) == all_stages - {"report"}
    metrics = json.loads((coordinator / "reports/report/metrics.json").read_text())
    assert {"cifar10-lenet5", "gtsrb-lenet5"} <= set(metrics)  # both workers' cells are in the one report
    assert set(metrics["gtsrb-lenet5"]) >= {"seed1", "pruned", "w8a8", "w4a8", "pruned_w8a8"}
    assert "Data and pipelines are up to date" in sh(coordinator, DVC, "status")


def test_gtsrb_cells_and_a_gtsrb_parameter_leaves_cifar10_alone(cluster):
    """GTSRB through the real pipeline (test_e2e_dvc.py's project is CIFAR-10 only): splits that hold out whole
    tracks, a sampled corrupted set, 43-class outputs; and DVC's own change detection and graph say that a GTSRB
    training parameter reruns GTSRB's cells and the report, and nothing of CIFAR-10."""
    coordinator, _, all_stages = cluster
    meta = json.loads((coordinator / "data/prepared/gtsrb/meta.json").read_text())
    assert meta["counts"] == {"train": 86, "val": 86, "test": 43}  # one of two tracks per class held out
    assert json.loads((coordinator / "data/corrupted/gtsrb/meta.json").read_text())["n"] == 24  # of 43 test images
    robust = json.loads((coordinator / "reports/evaluate/gtsrb-lenet5/w4a8-details.json").read_text())["robustness"]
    assert robust["n"] == 24 and robust["severities"] == 5
    assert torch.load(coordinator / "models/gtsrb-lenet5/seed0.pt", weights_only=True)["num_classes"] == 43
    preds = pd.read_parquet(coordinator / "reports/predictions/gtsrb-lenet5")
    assert preds["probs"].iloc[0].shape == (43,) and preds["label"].nunique() == 43
    changed, downstream, status = plan(coordinator, ("augment", "gtsrb", "crop_padding"), 1)
    reads_augment = {s for s in all_stages if s.startswith(("train@gtsrb-", "prune@gtsrb-", "quantize@gtsrb-"))}
    assert len(reads_augment) == 5 and changed == reads_augment | {"validate"}, status  # 2 seeds, prune, 2 variants
    assert changed | downstream == {s for s in all_stages if "@gtsrb-" in s} | {"validate", "report"}


def test_queued_sweep_runs_in_dvc_workers(cluster):
    coordinator, _, _ = cluster
    sh(coordinator, "git", "add", "-A")
    sh(coordinator, "git", "commit", "-qm", "report from the workers' results")
    queued = sh(coordinator, DVC, "exp", "run", "--queue", "-S", "prune.amount=0.25,0.5")
    assert queued.count("Queued experiment") == 2, queued
    sh(coordinator, DVC, "queue", "start", "-j", "2")  # returns while its workers run on (see sh)
    deadline = time.monotonic() + 900
    while True:
        status = sh(coordinator, DVC, "queue", "status")
        if "Queued" not in status and "Running" not in status:
            break
        assert time.monotonic() < deadline, status
        time.sleep(3)
    tasks = [line.split() for line in status.splitlines() if line.strip() and not line.startswith("Task")]
    tasks = [t for t in tasks if len(t) >= 4 and t[0] != "Worker"]
    assert len(tasks) == 2 and all("Success" in t for t in tasks), status
    cells = [f"{d}-lenet5" for d in SLICES]
    pruned = [f"{c}-{v}" for c in cells for v in ("pruned", "pruned_w8a8")]
    prune_dependent = ({"validate", "report"} | {f"prune@{c}" for c in cells} | {f"quantize_pruned@{c}" for c in cells}
                       | {f"{stage}@{c}" for stage in ("predict", "evaluate", "saliency") for c in pruned}
                       | {f"verdict@{c}" for c in cells}  # the gate judges the new pruned variants
                       | {f"population@{c}" for c in cells})  # the population vote reads every prediction
    for task in tasks:
        log = sh(coordinator, DVC, "queue", "logs", task[0])
        assert ran(log) == prune_dependent, log  # nothing trained, no unpruned variant re-evaluated
    shown = json.loads(sh(coordinator, DVC, "exp", "show", "--json", "--no-pager"))
    amounts = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            for rev in exp["revs"]:
                data = rev["data"]
                amount = data["params"]["params.yaml"]["data"]["prune"]["amount"]
                amounts[amount] = data["metrics"]["reports/report/metrics.json"]["data"]["gtsrb-lenet5"]["pruned"]
    assert set(amounts) >= {0.25, 0.5}
    assert amounts[0.25] != amounts[0.5]  # each experiment's own pruned model was evaluated
