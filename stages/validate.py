"""validate stage: params.yaml checked before any other stage's command line is built from it."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.atomic import write_text
from compression_audit.core.cli import ParamsOption, user_errors_exit
from compression_audit.core.config import load_params

app = typer.Typer(add_completion=False)

# Constant on purpose: every stage depends on this file only for ordering, so a parameter change reruns
# this check but nothing else through it.
PASSED = "params.yaml passed validation: names, types and ranges (stages/validate.py)\n"


@app.command()
@user_errors_exit("out")
def main(
    out: Annotated[Path, typer.Option(help="Marker file written when params.yaml is valid.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    load_params(params)
    write_text(out, PASSED)


if __name__ == "__main__":
    app()
