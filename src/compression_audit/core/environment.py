"""What computed a number: library versions and the device, recorded in every stage's JSON under "env".

Torch-free on purpose: the stages that only read numbers (evaluate, population, verdict, report, validate) record
torch's version without importing torch, whose import is most of a small stage's start-up time.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import platform
import sys
from pathlib import Path


def _torch_version() -> str:
    """torch.__version__ (local label included, e.g. 2.14.1+cu130) without importing torch when it is not loaded."""
    if "torch" in sys.modules:
        return str(sys.modules["torch"].__version__)
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.submodule_search_locations:
        version_file = Path(next(iter(spec.submodule_search_locations))) / "version.py"
        try:
            for node in ast.parse(version_file.read_text()).body:
                target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
                if isinstance(target, ast.Name) and target.id == "__version__" and isinstance(node.value, ast.Constant):
                    return str(node.value.value)
        except (OSError, SyntaxError, IndexError):
            pass
    return importlib.metadata.version("torch")


def environment(runtime_info: dict) -> dict:
    """Library versions and device, so a number can be traced to what computed it."""
    return {**runtime_info, "torch": _torch_version(), "numpy": importlib.metadata.version("numpy"),
            "scipy": importlib.metadata.version("scipy"), "python": platform.python_version()}


def results_only(summary: dict) -> dict:
    """A stage's summary without what differs between machines and runs ("env", "timing"): the results proper,
    as model files and prediction headers record them beside the environment."""
    return {k: v for k, v in summary.items() if k not in ("env", "timing")}
