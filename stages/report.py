"""report stage: the HTML report and Markdown summary, from the other stages' declared outputs only."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.cli import ParamsOption, user_errors_exit
from compression_audit.core.config import load_params
from compression_audit.report.report import build_report

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("html", "markdown", "metrics")
def main(
    reports: Annotated[Path, typer.Option(help="Directory holding the train/prune/quantize/evaluate/saliency outputs.")],
    html: Annotated[Path, typer.Option(help="Self-contained HTML report to write.")],
    markdown: Annotated[Path, typer.Option(help="Markdown summary to write.")],
    metrics: Annotated[Path, typer.Option(help="Compact metrics JSON (per cell and variant) to write.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    build_report(load_params(params), reports, html, markdown, metrics)


if __name__ == "__main__":
    app()
