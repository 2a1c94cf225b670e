"""`compression-audit`: the command a release pipeline runs to block a compressed model that fails the gate.

    compression-audit gate --variant pruned_w8a8 --cell gtsrb-resnet18

Exit status: 0 = every chosen variant passes; 1 = at least one fails (its failing criteria are printed);
2 = the verdict cannot be used (no `dvc repro` yet, an unknown cell or variant, stale thresholds, a damaged or
inconsistent verdict file).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from compression_audit.core.config import is_noise_floor, load_params
from compression_audit.core.errors import UserError
from compression_audit.report.verdict import PASS, check_verdict, read_verdicts

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="compression-audit: read the pipeline's outputs from the command line.")


@app.callback()
def _main() -> None:
    """compression-audit: read the pipeline's outputs from the command line."""


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ECE":
        return f"{value:.4f}"
    return f"{value:.2f}×" if unit.startswith("×") else f"{value:.2f} {unit}"


def _select(verdicts: dict, cells: list[str], variants: list[str]) -> list[tuple[str, str, dict]]:
    unknown = sorted(set(cells) - set(verdicts))
    if unknown:
        raise UserError(f"no verdict for cell(s) {', '.join(unknown)}; cells with one: {', '.join(verdicts)}")
    chosen = [(c, v, r) for c, data in verdicts.items() if not cells or c in cells
              for v, r in data["variants"].items() if not variants or v in variants]
    known = {v for data in verdicts.values() for v in data["variants"]}
    missing = sorted(set(variants) - known)
    if missing:
        raise UserError(f"no verdict for variant(s) {', '.join(missing)}; judged variants: {', '.join(sorted(known))} "
                        "(params.yaml: evaluate.variants, without the seedN noise floor)")
    return chosen


def _current(files: dict[str, tuple[Path, dict]], params_file: Path) -> dict:
    """The verdicts of the project's grid, judged with its current thresholds and consistent in every part. A
    verdict of a cell no longer in params.yaml (DVC leaves old outputs) is ignored; one judged with other
    thresholds is stale: a release must not pass on it."""
    if not params_file.is_file():
        raise UserError(f"{params_file} not found; run from the project root or pass --params PATH")
    params = load_params(params_file)
    grid = {f"{d}-{m}" for d in params.datasets for m in params.models}
    files = {c: f for c, f in files.items() if c in grid}
    if not files:
        raise UserError(f"no verdict for the cells of {params_file} ({', '.join(sorted(grid))}); run `dvc repro`")
    judged = [v for v in params.evaluate.variants if not is_noise_floor(v)]
    for path, data in files.values():
        check_verdict(path, data)
        if sorted(data["variants"]) != sorted(judged):  # a variant left out must not read as "all pass"
            raise UserError(f"cannot read the verdict {path}: it judges {sorted(data['variants'])}, but "
                            f"{params_file} has {sorted(judged)} (evaluate.variants without the noise floor); "
                            "rerun `dvc repro` to judge again")
    gate = params.gate.as_dict()
    stale = sorted(c for c, (_, data) in files.items() if data["gate"] != gate)
    if stale:
        raise UserError(f"the verdict of {', '.join(stale)} used other gate thresholds than {params_file}; "
                        "run `dvc repro` to judge again with the current ones")
    return {c: data for c, (_, data) in files.items()}


def _table(chosen: list[tuple[str, str, dict]], show_all: bool) -> tuple[Table, list[str]]:
    """(the criteria to print, the failing "cell variant"s)."""
    table = Table(title="compression-audit gate")
    for name in ("cell", "variant", "criterion", "value", "threshold (gate.*)", "noise floor", "status"):
        table.add_column(name, justify="left" if name in ("cell", "variant", "criterion", "status") else "right")
    failed = []
    for cell_name, variant_name, result in chosen:
        if result["verdict"] != PASS:
            failed.append(f"{cell_name} {variant_name}")
        for criterion, row in result["criteria"].items():
            if show_all or row["status"] != PASS:
                unit = row["unit"]
                floor_unit = "%" if unit.startswith("×") else unit  # the floor of a ratio is the seed's flip rate
                name = criterion + (f" ({row['class']})" if row.get("class") else "")
                table.add_row(cell_name, variant_name, name, _format(row["value"], unit),
                              f"{_format(row['threshold'], unit)} ({row['gate_key'].removeprefix('gate.')})",
                              _format(row["noise_floor"], floor_unit), row["status"],
                              style=None if row["status"] == PASS else "red")
    return table, failed


@app.command()
def gate(
    variant: Annotated[Optional[list[str]], typer.Option("--variant", "-v", help="Variant(s) to check (default: all judged).")] = None,
    cell: Annotated[Optional[list[str]], typer.Option("--cell", "-c", help="Cell(s) <dataset>-<model> to check (default: all).")] = None,
    reports: Annotated[Path, typer.Option(help="The pipeline's reports directory (holds verdict/).")] = Path("reports"),
    show_all: Annotated[bool, typer.Option("--all", help="Print every criterion, not only the failing ones.")] = False,
    params: Annotated[Optional[Path], typer.Option(
        help="The project's params.yaml (default: the one beside the reports folder): its grid and gate thresholds.")] = None,
) -> None:
    """Check the deployment verdict; exit 1 if a chosen variant fails, printing its failing criteria.

    Exit status: 0 every chosen variant passes; 1 at least one fails; 2 the verdict cannot be used (no `dvc repro`
    yet, an unknown cell or variant, thresholds other than params.yaml's, or a verdict file that is damaged or
    whose parts disagree: each variant's verdict is derived again from its criteria, never taken on trust).
    """
    # a log or CI job is not a terminal: rich would wrap the table at 80 columns
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        verdicts = _current(read_verdicts(reports), params or reports.parent / "params.yaml")
        chosen = _select(verdicts, cell or [], variant or [])
        table, failed = _table(chosen, show_all)
    except UserError as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None
    except Exception as exc:  # a damaged verdict file must not read as a FAIL (1), let alone a PASS
        console.print(f"error: cannot read the verdict under {reports}/verdict ({type(exc).__name__}: {exc}); "
                      "rerun `dvc repro`", style="red", markup=False)
        raise typer.Exit(2) from None
    if table.row_count:
        console.print(table)
    passed = len(chosen) - len(failed)
    console.print(f"{passed} of {len(chosen)} variant(s) pass" + (f"; FAIL: {', '.join(failed)}" if failed else ""),
                  markup=False)
    raise typer.Exit(1 if failed else 0)


if __name__ == "__main__":
    app()
