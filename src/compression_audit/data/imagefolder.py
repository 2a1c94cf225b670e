"""Import a dataset from a local ImageFolder tree (``<split>/<class>/<file>``) or a .tar.gz of one.

This is how machines without internet get real data. Every check runs before the
prepared output is written: wrong checksum, unreadable archive, class folders that
do not match the dataset, empty classes, undecodable images, wrong size or mode.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from compression_audit.core.errors import UserError
from compression_audit.core.progress import log, track
from compression_audit.data.datasets import IMAGE_SIZE, DatasetSpec, own_dataset_spec
from compression_audit.data.prepared import RawSplit

IMAGE_EXTENSIONS = (".webp", ".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff")


def find_local_source(local_dir: str | Path, name: str) -> Path:
    """The directory ``<local_dir>/<name>`` or the archive ``<local_dir>/<name>.tar.gz``."""
    local_dir = Path(local_dir)
    candidates = [local_dir / name, local_dir / f"{name}.tar.gz", local_dir / f"{name}.tgz"]
    found = [c for c in candidates if c.exists()]
    if len(found) > 1:
        log(f"both {found[0]} and {found[1]} exist; importing the first (no archive checksum applies)")
    if found:
        return found[0]
    tried = ", ".join(str(c) for c in candidates)
    raise UserError(
        f"no local copy of {name!r}: none of {tried} exists. Point data.local_dir (or the "
        "COMPRESSION_AUDIT_DATA_DIR environment variable) at the folder that holds it, "
        "or set data.source: download on a machine with internet"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def to_rgb32(image: Image.Image, resize: bool, where: str) -> np.ndarray:
    """One decoded image as a (32, 32, 3) uint8 array."""
    if image.mode != "RGB" or image.size != (IMAGE_SIZE, IMAGE_SIZE):
        if not resize:
            raise UserError(
                f"{where} is {image.size[0]}x{image.size[1]} {image.mode}, expected "
                f"{IMAGE_SIZE}x{IMAGE_SIZE} RGB; set data.resize: true to convert and resize "
                "on import (PIL bilinear), or fix the source images"
            )
        image = image.convert("RGB")
        if image.size != (IMAGE_SIZE, IMAGE_SIZE):
            image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


# How a path of the tree being imported is named in messages: the path itself for a folder, "<archive>: <member>"
# for an extracted archive, whose temporary folder is gone by the time the user reads the message.
Shown = Callable[[Path], str]


def printable(path: Path | str) -> str:
    """A path as text that can always be printed: bytes that are not UTF-8 as backslash escapes."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_utf8_names(root: Path, shown: Shown) -> None:
    """Refuse a tree holding a file or folder name that is not valid UTF-8: it would pass the import and then break
    `dvc repro` (DVC hashes the folders it depends on) with a message that names neither the path nor the fix."""
    for folder, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                raise UserError(f"{printable(shown(Path(folder) / name))}: the name is not valid UTF-8; rename it "
                                "(any UTF-8 name works) and run again") from None


def _decode(path: Path, resize: bool, shown: Shown) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb32(image, resize, printable(shown(path)))
    except UserError:
        raise
    except Exception as exc:  # whatever the decoder raises: OSError, SyntaxError, ValueError, DecompressionBombError...
        detail = " ".join(str(exc).split())[:200]
        raise UserError(f"cannot decode image {printable(shown(path))} ({type(exc).__name__}: {detail}); "
                        "replace or remove the file") from exc


def _list_split(root: Path, split: str, spec: DatasetSpec, shown: Shown) -> list[tuple[Path, int]]:
    split_dir = root / split
    if not split_dir.is_dir():
        raise UserError(f"{shown(root)} has no {split}/ folder; expected an ImageFolder tree <split>/<class>/<image>")
    found = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    missing = sorted(set(spec.folders) - set(found))
    unexpected = sorted(set(found) - set(spec.folders))
    if missing or unexpected:
        raise UserError(
            f"class folders in {shown(split_dir)} do not match {spec.name}: missing {missing or 'none'}, "
            f"unexpected {unexpected or 'none'}; expected exactly {list(spec.folders)}"
        )
    samples = []
    for label, folder in enumerate(spec.folders):
        files = sorted(p for p in (split_dir / folder).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise UserError(f"class folder {shown(split_dir / folder)} has no images ({', '.join(IMAGE_EXTENSIONS)}); "
                            "every class needs at least one")
        samples.extend((f, label) for f in files)
    if all(path.stem.isdigit() for path, _ in samples):
        # Files named by their index in the official release: keep that order, so a local
        # import and torchvision's download give the same arrays and the same split.
        samples.sort(key=lambda s: int(s[0].stem))
    return samples


def _read_split(root: Path, split: str, spec: DatasetSpec, resize: bool, shown: Shown) -> RawSplit:
    samples = _list_split(root, split, spec, shown)
    # Decoding is C code that releases the GIL; threads use every core without pickling arrays.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        decoded = list(
            track(pool.map(lambda s: _decode(s[0], resize, shown), samples), total=len(samples), description=f"decode {spec.name}/{split}")
        )
    images = np.stack(decoded) if decoded else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    labels = np.array([label for _, label in samples], dtype=np.int64)
    if split == "train":  # only the training split is carved up, so only it needs split units
        groups = np.array([spec.group_of(str(p), spec.folders[label], i) for i, (p, label) in enumerate(samples)])
    else:
        groups = np.arange(len(samples)).astype(str)
    return RawSplit(images, labels, groups)


def _safe_extract(archive: Path, dest: Path) -> None:
    if not hasattr(tarfile, "data_filter"):
        raise UserError(
            "this Python's tarfile lacks extraction filters (added in 3.10.12 / 3.11.4), which keep archive "
            "members inside the target folder; upgrade Python or extract the archive and point data.local_dir at it"
        )
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as exc:  # an absolute or ../ path, a link out of the folder, a device file
        member = getattr(exc, "tarinfo", None)
        name = printable(member.name) if member is not None else "?"
        raise UserError(
            f"archive {archive} has an unsafe member {name!r} ({type(exc).__name__}: {printable(exc)}); nothing was "
            "imported and nothing left the temporary folder: do not use this archive, get the dataset from a "
            "source you trust"
        ) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise UserError(
                f"no space to extract archive {archive} into {dest.parent} ({exc.strerror}); free space there or set "
                "TMPDIR to a folder on a disk with room for the extracted dataset"
            ) from exc
        raise _corrupt(archive, exc) from exc
    except (tarfile.TarError, EOFError, ValueError, zlib.error) as exc:
        raise _corrupt(archive, exc) from exc


def _corrupt(archive: Path, exc: BaseException) -> UserError:
    return UserError(
        f"cannot read archive {archive} ({type(exc).__name__}: {' '.join(printable(exc).split())}); it is corrupt or "
        "truncated: copy it again or point data.local_dir at an extracted folder"
    )


def _tree_root(path: Path) -> Path:
    """Accept archives that wrap the tree in one top-level folder."""
    if (path / "train").is_dir():
        return path
    children = [p for p in path.iterdir() if p.is_dir()]
    if len(children) == 1 and (children[0] / "train").is_dir():
        return children[0]
    return path


def import_local(source: Path, spec: DatasetSpec, resize: bool, expected_sha256: str | None) -> tuple[RawSplit, RawSplit]:
    """Read (train, test) from an ImageFolder directory or .tar.gz archive."""
    _, train, test = _import(source, lambda root, shown: spec, resize, expected_sha256, spec.name)
    return train, test


def import_own(source: Path, name: str, names_file: Path | None, group_pattern: str | None, min_groups: int,
               expected_sha256: str | None) -> tuple[DatasetSpec, RawSplit, RawSplit]:
    """An own dataset: classes from the training folders, any image size or mode (converted to RGB and
    resized to 32x32), and every class checked to have ``min_groups`` split units before anything is decoded."""
    def discover(root: Path, shown: Shown) -> DatasetSpec:
        train_dir = root / "train"
        if not train_dir.is_dir():
            raise UserError(f"{source} has no train/ folder; expected an ImageFolder tree <split>/<class>/<image> "
                            "with train/ and test/")
        spec = own_dataset_spec(name, sorted(p.name for p in train_dir.iterdir() if p.is_dir()), names_file, group_pattern)
        samples = _list_split(root, "train", spec, shown)
        for label, folder in enumerate(spec.folders):
            files = [str(p) for p, y in samples if y == label]
            groups = {spec.group_of(f, folder, i) for i, f in enumerate(files)}
            if len(groups) < min_groups:
                unit = "groups (group_pattern)" if group_pattern else "images"
                raise UserError(
                    f"class {folder!r} of {name} has {len(groups)} {unit} in train/; the validation split needs at "
                    f"least {min_groups} (one on each side); add images or drop the class folder")
        return spec

    return _import(source, discover, True, expected_sha256, name)


def _import(source: Path, spec_of: Callable[[Path, Shown], DatasetSpec], resize: bool, expected_sha256: str | None,
            name: str) -> tuple[DatasetSpec, RawSplit, RawSplit]:
    if not source.exists():
        raise UserError(f"{source} does not exist; give an ImageFolder directory or a .tar.gz of one")
    if source.is_dir():
        check_utf8_names(source, str)
        root = _tree_root(source)
        spec = spec_of(root, str)
        return spec, _read_split(root, "train", spec, resize, str), _read_split(root, "test", spec, resize, str)
    if expected_sha256 is not None:
        actual = sha256_of(source)
        if actual != expected_sha256:
            raise UserError(
                f"checksum mismatch for {source}: sha256 is {actual}, params.yaml expects {expected_sha256} "
                f"(datasets.{name}.archive_sha256); the file is damaged or another release: copy it again, "
                "or set archive_sha256 to the new value if you trust this file"
            )
    with tempfile.TemporaryDirectory(prefix=f"compression-audit-{name}-") as tmp:
        _safe_extract(source, Path(tmp))
        shown = _member_of(source, Path(tmp))
        check_utf8_names(Path(tmp), shown)
        root = _tree_root(Path(tmp))
        spec = spec_of(root, shown)
        return spec, _read_split(root, "train", spec, resize, shown), _read_split(root, "test", spec, resize, shown)


def _member_of(archive: Path, extracted: Path) -> Shown:
    """Name an extracted path by its archive and member name, not by the temporary folder it was extracted to."""
    return lambda path: f"{archive}: {path.relative_to(extracted).as_posix()}"
