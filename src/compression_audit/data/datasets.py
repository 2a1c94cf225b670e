"""The datasets the pipeline knows: label order, class names, and how images group.

Label numbers follow the official releases; for both datasets ImageFolder's sorted
class folders give the same numbers (CIFAR-10's names are alphabetical, GTSRB's
folders are zero-padded ClassIds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePath

from compression_audit.core.errors import UserError

IMAGE_SIZE = 32

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)

# As published with the benchmark, in ClassId order.
GTSRB_CLASSES = (
    "Speed limit (20km/h)", "Speed limit (30km/h)", "Speed limit (50km/h)", "Speed limit (60km/h)",
    "Speed limit (70km/h)", "Speed limit (80km/h)", "End of speed limit (80km/h)",
    "Speed limit (100km/h)", "Speed limit (120km/h)", "No passing",
    "No passing for vehicles over 3.5 metric tons", "Right-of-way at the next intersection",
    "Priority road", "Yield", "Stop", "No vehicles", "Vehicles over 3.5 metric tons prohibited",
    "No entry", "General caution", "Dangerous curve to the left", "Dangerous curve to the right",
    "Double curve", "Bumpy road", "Slippery road", "Road narrows on the right", "Road work",
    "Traffic signals", "Pedestrians", "Children crossing", "Bicycles crossing",
    "Beware of ice/snow", "Wild animals crossing", "End of all speed and passing limits",
    "Turn right ahead", "Turn left ahead", "Ahead only", "Go straight or right",
    "Go straight or left", "Keep right", "Keep left", "Roundabout mandatory", "End of no passing",
    "End of no passing by vehicles over 3.5 metric tons",
)

# GTSRB training files are named <ClassId>_<track>_<image> (local copies) or
# <track>_<image> inside the class folder (official archive); the 30 images of a
# track show one physical sign, so they must land on the same side of the split.
_GTSRB_LOCAL = re.compile(r"^(\d+)_(\d+)_\d+$")
_GTSRB_OFFICIAL = re.compile(r"^(\d+)_\d+$")


def _gtsrb_group(path: str, class_folder: str) -> str:
    stem = PurePath(path).stem
    if m := _GTSRB_LOCAL.match(stem):
        return f"{int(m.group(1))}_{int(m.group(2))}"
    if m := _GTSRB_OFFICIAL.match(stem):
        return f"{int(class_folder)}_{int(m.group(1))}"
    raise UserError(
        f"GTSRB training image {path!r} is not named <ClassId>_<track>_<image>: the track is needed to "
        "keep near-duplicate images of one sign out of both train and validation; keep the benchmark's file names"
    )


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    folders: tuple[str, ...]  # class folder names, in label order
    class_names: tuple[str, ...]  # human-readable, in label order
    split_by: str  # "track", "image" or "group" (an own dataset's group_pattern): the validation split's unit
    group_pattern: str | None = None

    def group_of(self, path: str, class_folder: str, index: int) -> str:
        """The split unit of one training image."""
        if self.split_by == "track":
            return _gtsrb_group(path, class_folder)
        if self.split_by == "group":
            stem = PurePath(path).stem
            m = re.match(self.group_pattern or "", stem)
            if m is None:
                raise UserError(
                    f"training image {path!r}: its name {stem!r} does not match group_pattern "
                    f"{self.group_pattern!r} (datasets.{self.name}.group_pattern); rename the file or fix the pattern"
                )
            return f"{class_folder}/{m.group(1) if m.groups() else m.group(0)}"
        return str(index)


def own_dataset_spec(name: str, folders: list[str], names_file: Path | None, group_pattern: str | None) -> DatasetSpec:
    """An own dataset's spec from its training class folders (sorted: ImageFolder's label order)."""
    if not folders:
        raise UserError(f"datasets.{name}: the train/ folder has no class folders; expected <split>/<class>/<image>")
    names = list(folders)
    if names_file is not None:
        names = _read_names(name, names_file, folders)
    return DatasetSpec(name, tuple(folders), tuple(names), "group" if group_pattern else "image", group_pattern)


def _read_names(name: str, path: Path, folders: list[str]) -> list[str]:
    if not path.is_file():
        raise UserError(f"datasets.{name}.names_file: {path} not found; give a text file with one '<folder>: <name>' per line")
    mapping: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        folder, sep, label = line.partition(":")
        if not sep or not folder.strip() or not label.strip():
            raise UserError(f"{path}:{number}: expected '<folder>: <class name>', got {line!r}")
        if folder.strip() in mapping:
            raise UserError(f"{path}:{number}: class folder {folder.strip()!r} is named twice")
        mapping[folder.strip()] = label.strip()
    missing, unknown = sorted(set(folders) - set(mapping)), sorted(set(mapping) - set(folders))
    if missing or unknown:
        raise UserError(f"{path} does not match the class folders: no name for {missing or 'none'}, "
                        f"names for folders that do not exist: {unknown or 'none'}")
    return [mapping[f] for f in folders]


DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec("cifar10", CIFAR10_CLASSES, CIFAR10_CLASSES, split_by="image"),
    "gtsrb": DatasetSpec("gtsrb", tuple(f"{i:02d}" for i in range(43)), GTSRB_CLASSES, split_by="track"),
}


def get_dataset_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    return DATASETS[name]
