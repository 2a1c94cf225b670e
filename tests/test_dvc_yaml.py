"""dvc.yaml declares, for every stage, the package folders (subpackages) its script imports, transitively,
so a code change reruns the stages that run that code and no stage misses a change it depends on."""

import ast
import re

import pytest
import yaml
from conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "compression_audit"


def _imports(path):
    """Dotted names of the package's modules that ``path`` imports (at any depth of the file)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("compression_audit"):
            folder = SRC.joinpath(*node.module.split("."))
            if folder.is_dir():  # `from compression_audit.measure import metrics` names a module;
                for a in node.names:  # `from compression_audit.models import BUILTIN_MODELS` the package's own
                    is_module = (folder / f"{a.name}.py").is_file()
                    names.add(f"{node.module}.{a.name}" if is_module else node.module)
            else:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("compression_audit."))
    return names


def _file(module):
    path = SRC.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def closure(script):
    """The package paths a stage's script runs: each subpackage it reaches as a folder, a top-level module as a file."""
    seen, todo = set(), list(_imports(script))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            assert _file(name).is_file(), f"{script.name} reaches {name}, which is not a module"
            todo.extend(_imports(_file(name)))
    files = [_file(name).relative_to(REPO) for name in seen]  # src/compression_audit/<folder>/<module>.py
    return {str(f.parent) if len(f.parts) > 3 else str(f) for f in files}


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def test_closure_knows_folders_and_transitive_imports():
    # known answer: the verdict stage's script imports report.verdict, which imports core modules only, and
    # core.config imports the data and models registries' names
    assert closure(REPO / "stages" / "verdict.py") == {
        "src/compression_audit/report", "src/compression_audit/core", "src/compression_audit/data",
        "src/compression_audit/models"}


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
