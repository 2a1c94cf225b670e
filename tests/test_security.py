"""Nothing the user hands the pipeline is executed: model files load with weights_only=True, no pickle, eval
or shell of user input anywhere in the code, and names from params.yaml cannot inject shell commands into
the command lines DVC builds from them."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, copy_project

SOURCES = sorted([*(REPO / "src").rglob("*.py"), *(REPO / "stages").glob("*.py"), *(REPO / "benchmarks").glob("*.py")])


def _name(node: ast.AST) -> str:
    """Dotted name of a called function: torch.load, pickle.loads, np.load, eval..."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return "?"


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else kw.value
    return None


FORBIDDEN = {
    "eval", "exec", "compile", "os.system", "os.popen", "pickle.load", "pickle.loads", "pickle.Unpickler",
    "dill.load", "cloudpickle.load", "pd.read_pickle", "pandas.read_pickle", "torch.jit.load", "yaml.load",
    "yaml.unsafe_load", "shelve.open", "marshal.load", "marshal.loads",
}


UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "shelve", "marshal", "joblib"}


def problems(path: Path) -> list[str]:
    found = []
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):  # aliases would hide the calls from the check below
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{shown}:{node.lineno}: import {m}" for m in modules if m.split(".")[0] in UNSAFE_MODULES]
            if isinstance(node, ast.ImportFrom) and node.module in ("subprocess", "os"):
                found += [f"{shown}:{node.lineno}: from {node.module} import {a.name}" for a in node.names]
        if not isinstance(node, ast.Call):
            continue
        name, where = _name(node.func), f"{shown}:{node.lineno}"
        if name in FORBIDDEN or name.startswith(("os.exec", "os.spawn")):
            found.append(f"{where}: {name}()")
        if name == "torch.load" and _keyword(node, "weights_only") is not True:
            found.append(f"{where}: torch.load without weights_only=True")
        if name in ("np.load", "numpy.load") and _keyword(node, "allow_pickle") not in (None, False):
            found.append(f"{where}: np.load with allow_pickle")
        if name.startswith("subprocess.") and _keyword(node, "shell") not in (None, False):
            found.append(f"{where}: subprocess with shell=True")
    return found


def test_the_scan_finds_what_it_forbids(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text("import torch, pickle, subprocess\n"
                   "torch.load('m.pt')\ntorch.load('m.pt', weights_only=False)\npickle.loads(b'')\n"
                   "eval('1')\nsubprocess.run('ls', shell=True)\nimport numpy as np\nnp.load('x', allow_pickle=True)\n"
                   "from subprocess import run\nimport dill as d\nimport os\nos.execv('/bin/sh', [])\n")
    assert len(problems(bad)) == 10


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_no_unsafe_loading_or_execution(path):
    assert problems(path) == []


def test_hostile_params_name_stops_dvc_before_any_shell_runs_it(tmp_path):
    """DVC substitutes params into command lines before any stage runs; the validate stage must fail first."""
    work = tmp_path / "project"
    copy_project(work)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["quantize"]["variants"]["x; touch pwned; true"] = raw["quantize"]["variants"]["w8a8"]
    (work / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    dvc = str(Path(sys.executable).parent / "dvc")
    for cmd in (["git", "init", "-q"], [dvc, "init", "-q"]):
        subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True)
    stages = subprocess.run([dvc, "stage", "list", "--name-only"], cwd=work, env=env, capture_output=True, text=True)
    assert "quantize@cifar10-lenet5-x; touch pwned; true" in stages.stdout  # the hostile command line exists...
    result = subprocess.run([dvc, "repro"], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "Running stage 'validate'" in result.stdout and result.stdout.count("Running stage") == 1
    assert "quantize.variants.x; touch pwned; true: variant names become file names" in result.stderr + result.stdout
    assert not list(work.rglob("pwned")) and not (REPO / "pwned").exists()  # ...and never ran
