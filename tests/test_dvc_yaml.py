"""dvc.yaml declares, for every stage, exactly the package modules its script imports (transitively),
so a code change reruns the stages that run that code and no others."""

import ast
import re

import pytest
import yaml
from conftest import REPO

PACKAGE = REPO / "src" / "compression_audit"


def _imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("compression_audit"):
            if node.module == "compression_audit":
                names.update(a.name for a in node.names if (PACKAGE / f"{a.name}.py").exists())
            else:
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("compression_audit."))
    return names


def closure(script):
    seen, todo = set(), list(_imports(script))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(PACKAGE / f"{name}.py"))
    return {f"src/compression_audit/{n}.py" for n in seen}


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_match_imports(name):
    stage = STAGES[name]
    script = re.search(r"(stages/\w+\.py)", stage["cmd"]).group(1)
    declared = {d for d in stage["deps"] if d.startswith("src/")}
    assert script in stage["deps"]
    assert declared == closure(REPO / script), f"{name}: missing {closure(REPO / script) - declared}, extra {declared - closure(REPO / script)}"


@pytest.mark.parametrize("name", sorted(set(STAGES) - {"validate"}))
def test_every_stage_waits_for_params_validation(name):
    # DVC interpolates params names into command lines; only this ordering keeps a hostile name from a shell
    assert "reports/params-valid.txt" in STAGES[name]["deps"]
    assert "params.yaml" in STAGES["validate"]["deps"]
