"""Wall time of the real pipeline under real DVC: a full `dvc repro` of one configuration in a fresh git
repository (a copy of this project), then `dvc exp run -S prune.amount=...`, which reruns only what depends
on pruning. The stages DVC ran are counted from its own output."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from compression_audit.core.errors import UserError
from compression_audit.core.progress import log
from compression_audit.data.fetch import LOCAL_DIR_ENV

PROJECT_FILES = ("dvc.yaml", "stages", "src", "pyproject.toml", ".dvcignore", "own_models", "data/own")
QUICK_EPOCHS = 5


def quick_params(params: dict) -> dict:
    """The repository's params with LeNet-5 as the only model, trained for a few epochs: every stage of the
    pipeline on both full datasets, in minutes on a CPU."""
    quick = copy.deepcopy(params)
    quick["models"] = {"lenet5": {**params["models"]["lenet5"], "epochs": QUICK_EPOCHS}}
    return quick


def _absolute_data_dir(params: dict, project: Path) -> dict:
    # the copy lives elsewhere: a relative local_dir must still name the folder it names in the project
    local = Path(params["data"]["local_dir"])
    if not local.is_absolute():
        params = copy.deepcopy(params)
        params["data"]["local_dir"] = str((project / local).resolve())
    return params


def prepare(project: Path, workdir: Path, params: dict) -> Path:
    """A git + DVC repository at ``workdir`` with the project's pipeline and ``params``, committed."""
    if workdir.exists() and any(workdir.iterdir()):
        raise UserError(f"{workdir} is not empty; the pipeline benchmark needs a fresh folder (or omit --workdir)")
    workdir.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = project / name
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, workdir / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy(src, workdir / name)
    (workdir / "params.yaml").write_text(yaml.safe_dump(_absolute_data_dir(params, project), sort_keys=False))
    for cmd in (["git", "init", "-q"], ["git", "config", "user.email", "bench@localhost"],
                ["git", "config", "user.name", "bench"], [_dvc(), "init", "-q"], ["git", "add", "-A"],
                ["git", "commit", "-qm", "benchmark configuration"]):
        _run(cmd, workdir)
    return workdir


def _dvc() -> str:
    return str(Path(sys.executable).parent / "dvc")


def interpreter_env() -> dict:
    """This process's environment with this interpreter's bin first on PATH: the `python` and `dvc` that
    DVC's stages call are then the ones of this installation."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _env() -> dict:
    env = interpreter_env()
    if env.get(LOCAL_DIR_ENV):  # the stages run in the copy: a relative folder would point elsewhere
        env[LOCAL_DIR_ENV] = str(Path(env[LOCAL_DIR_ENV]).resolve())
    return env


def data_source(params: dict) -> str:
    """Where fetch takes the datasets from, in words (a download would be part of the full run's time)."""
    if os.environ.get(LOCAL_DIR_ENV):
        return f"local copy in {Path(os.environ[LOCAL_DIR_ENV]).resolve()} ({LOCAL_DIR_ENV})"
    if params["data"]["source"] == "local":
        return f"local copy in {params['data']['local_dir']}"
    return "download from the official hosts"


def _run(cmd: list[str], cwd: Path) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"{' '.join(cmd)} failed in {cwd}:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout + result.stderr


def timed_dvc(args: list[str], cwd: Path) -> tuple[float, list[str]]:
    """(wall seconds, stages DVC ran) of one DVC command, echoing each stage as it starts."""
    start = time.perf_counter()
    proc = subprocess.Popen([_dvc(), *args], cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    ran, tail = [], []
    for line in proc.stdout:
        tail = (tail + [line])[-60:]
        if line.startswith("Running stage '"):
            ran.append(line.split("'")[1])
            log(f"  dvc {args[0]}: {ran[-1]} ({time.perf_counter() - start:.0f} s)")
    if proc.wait() != 0:
        raise UserError(f"dvc {' '.join(args)} failed in {cwd}:\n{''.join(tail)}")
    return time.perf_counter() - start, ran


def full_and_incremental(project: Path, workdir: Path, params: dict, prune_amount: float) -> dict:
    """Full `dvc repro`, then `dvc exp run -S prune.amount=<prune_amount>` on its committed result."""
    params = _absolute_data_dir(params, project)
    prepare(project, workdir, params)
    log(f"pipeline: dvc repro in {workdir}")
    full_s, full_ran = timed_dvc(["repro"], workdir)
    _run(["git", "add", "-A"], workdir)
    _run(["git", "commit", "-qm", "full run"], workdir)
    log(f"pipeline: dvc exp run -S prune.amount={prune_amount}")
    inc_s, inc_ran = timed_dvc(["exp", "run", "-S", f"prune.amount={prune_amount}"], workdir)
    return {"full_repro_s": round(full_s, 1), "full_stages": len(full_ran),
            "incremental_s": round(inc_s, 1), "incremental_stages": len(inc_ran), "incremental_ran": inc_ran,
            "prune_amount": prune_amount, "data": data_source(params),
            "models": list(params["models"]), "datasets": list(params["datasets"]),
            "epochs": {m: hp["epochs"] for m, hp in params["models"].items()}}
