"""fetch stage: one dataset from torchvision's download or a local ImageFolder copy -> prepared arrays."""

from pathlib import Path
from typing import Annotated

import typer

from compression_audit.core.cli import DatasetOption, ParamsOption, user_errors_exit
from compression_audit.core.config import load_params
from compression_audit.data.fetch import fetch_dataset

app = typer.Typer(add_completion=False)


@app.command()
@user_errors_exit("report", dirs=("out",))
def main(
    dataset: DatasetOption,
    out: Annotated[Path, typer.Option(help="Prepared dataset directory to write.")],
    report: Annotated[Path, typer.Option(help="JSON summary to write (source, counts, time).")],
    raw_dir: Annotated[Path, typer.Option(help="Where downloads are kept between runs.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    fetch_dataset(load_params(params), dataset, out, report, raw_dir)


if __name__ == "__main__":
    app()
