"""Make the README's own-dataset example: GTSRB's eight speed-limit classes as a 64x64 PNG ImageFolder.

    python scripts/make_speed_limits.py --gtsrb ../shared/datasets/gtsrb.tar.gz --out data/own/speedlimits

The pipeline has never seen this layout: class folders named by the limit (speed_20 ... speed_120), PNG files
at 64x64 (upscaled from the local 32x32 copy, PIL bicubic), class names in a separate file, and training files
that keep GTSRB's <ClassId>_<track>_<image> names, so the group pattern ^(\\d+_\\d+)_ keeps each track (30
photos of one physical sign) on one side of the validation split.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from PIL import Image

from compression_audit.core.errors import UserError
from compression_audit.core.progress import log, track
from compression_audit.data.imagefolder import IMAGE_EXTENSIONS, _safe_extract, _tree_root

app = typer.Typer(add_completion=False)

# GTSRB ClassId -> (folder, name); ClassId 6, "End of speed limit (80km/h)", is not a limit
SPEED_LIMITS = {0: 20, 1: 30, 2: 50, 3: 60, 4: 70, 5: 80, 7: 100, 8: 120}
SIZE = 64


def _convert(job: tuple[Path, Path]) -> None:
    src, dst = job
    with Image.open(src) as img:
        img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BICUBIC).save(dst.with_suffix(".png"))


def _jobs(root: Path, out: Path) -> list[tuple[Path, Path]]:
    jobs = []
    for split in ("train", "test"):
        for class_id, limit in SPEED_LIMITS.items():
            src_dir = root / split / f"{class_id:02d}"
            if not src_dir.is_dir():
                raise UserError(f"{src_dir} not found: --gtsrb must be the GTSRB ImageFolder copy (<split>/<ClassId>/)")
            dst_dir = out / split / f"speed_{limit}"
            dst_dir.mkdir(parents=True, exist_ok=True)
            jobs += [(f, dst_dir / f.name) for f in sorted(src_dir.iterdir()) if f.suffix.lower() in IMAGE_EXTENSIONS]
    return jobs


@app.command()
def main(
    gtsrb: Annotated[Path, typer.Option(help="GTSRB ImageFolder directory or its .tar.gz.", exists=True)],
    out: Annotated[Path, typer.Option(help="The ImageFolder tree to write (must not exist).")] = Path("data/own/speedlimits"),
) -> None:
    if out.exists():
        raise UserError(f"{out} exists; remove it or choose another --out (nothing was written)")
    with tempfile.TemporaryDirectory(prefix="speedlimits-") as tmp:
        root = Path(tmp) / "gtsrb"
        if gtsrb.is_dir():
            root = _tree_root(gtsrb)
        else:
            log(f"extracting {gtsrb}")
            _safe_extract(gtsrb, root)
            root = _tree_root(root)
        staging = out.parent / f".{out.name}.tmp"  # .dvcignore hides .*.tmp: a killed run leaves nothing DVC sees
        shutil.rmtree(staging, ignore_errors=True)
        jobs = _jobs(root, staging)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for _ in track(pool.map(_convert, jobs), total=len(jobs), description="speed limits -> 64x64 PNG"):
                pass
        staging.rename(out)  # all or nothing: a half-written tree is never taken for the dataset
    names = out.parent / f"{out.name}-names.txt"
    names.write_text("".join(f"speed_{limit}: Speed limit ({limit}km/h)\n" for limit in SPEED_LIMITS.values()))
    counts = {s: sum(1 for _ in (out / s).rglob("*.png")) for s in ("train", "test")}
    log(f"{out}: {counts['train']} train and {counts['test']} test images in {len(SPEED_LIMITS)} classes; names in {names}")


if __name__ == "__main__":
    try:
        app()
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
