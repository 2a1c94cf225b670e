"""corrupt stage: one dataset's test split -> its corrupted copies (params.yaml's corruptions), made once per dataset."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.cli import DataOption, DatasetOption, ParamsOption, user_errors_exit
from compression_audit.core.config import load_params
from compression_audit.data.corrupt import make_corrupted

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit(dirs=("out",))
def main(
    dataset: DatasetOption,
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Directory of the corrupted test images to write.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    make_corrupted(load_params(params), dataset, data, out)


if __name__ == "__main__":
    app()
