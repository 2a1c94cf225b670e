"""Own datasets (any ImageFolder) and own models (a builder by import path): known answers and clear errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import make_archive
from PIL import Image

from compression_audit.core.config import ConfigError, load_params
from compression_audit.core.errors import UserError
from compression_audit.data.imagefolder import import_own
from compression_audit.models.networks import Classifier, build_own

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("circle", "square", "triangle")


def group_color(label: int, group: int, index: int) -> tuple[int, int, int]:
    """A flat colour that encodes (class, group, image): a flat image stays flat through any resize."""
    return 40 + 80 * label, 10 + 20 * group, 5 + 10 * index


def make_shapes(root: Path, groups: int = 4, per_group: int = 3, n_test: int = 2, size: int = 48,
                modes: tuple[str, ...] = ("RGB", "L", "RGBA", "P")) -> Path:
    """3 classes of ``size``x``size`` images in mixed modes; training files <group>_<image>.png, ``per_group``
    near-duplicates per group."""
    for label, name in enumerate(CLASSES):
        for g in range(groups):
            for i in range(per_group):
                d = root / "train" / name
                d.mkdir(parents=True, exist_ok=True)
                mode = modes[(g + i) % len(modes)]
                img = Image.new("RGB", (size, size), group_color(label, g, i))
                if mode == "P":  # an adaptive palette keeps a flat colour exact
                    img = img.convert("P", palette=Image.Palette.ADAPTIVE)
                elif mode != "RGB":
                    img = img.convert(mode)
                img.save(d / f"g{g:02d}_{i:03d}.png")
        for i in range(n_test):
            d = root / "test" / name
            d.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (size + 16, size), group_color(label, 9, i)).save(d / f"t{i:03d}.jpg", quality=100)
    return root


def test_own_imagefolder_any_size_and_mode_with_groups(tmp_path):
    root = make_shapes(tmp_path / "shapes")
    spec, train, test = import_own(root, "shapes", None, r"^g(\d+)_", 2, None)
    assert spec.folders == CLASSES and spec.class_names == CLASSES and spec.split_by == "group"
    assert train.images.shape == (3 * 4 * 3, 32, 32, 3) and train.images.dtype == np.uint8
    assert test.images.shape == (3 * 2, 32, 32, 3)
    # L and P images lose colour (grey / palette): compare the RGB ones exactly, every image's class and group
    for img, label, group in zip(train.images, train.labels, train.groups):
        folder, key = group.split("/")
        assert folder == CLASSES[label] and 0 <= int(key) < 4
        assert (img == img[0, 0]).all()  # flat after conversion and resize
    rgb = [(img, label, group) for img, label, group in zip(train.images, train.labels, train.groups)
           if img[0, 0, 2] % 10 == 5 and img[0, 0, 0] == 40 + 80 * label]
    assert rgb and all(tuple(img[0, 0][:2]) == group_color(label, int(group.split("/")[1]), 0)[:2] for img, label, group in rgb)
    assert len(set(train.groups)) == 3 * 4


def test_own_imagefolder_from_archive_with_names_file(tmp_path):
    root = make_shapes(tmp_path / "shapes")
    archive = make_archive(root, tmp_path / "shapes.tar.gz")
    names = tmp_path / "names.txt"
    names.write_text("triangle: Triangle (warning)\ncircle: Circle\n\nsquare: Square\n")
    spec, train, _ = import_own(archive, "shapes", names, None, 2, None)
    assert spec.class_names == ("Circle", "Square", "Triangle (warning)") and spec.split_by == "image"
    assert len(set(train.groups)) == len(train.groups)  # no pattern: every image is its own unit


@pytest.mark.parametrize("mutate,message", [
    (lambda root: shutil.rmtree(root / "train"), "has no train/ folder"),
    (lambda root: [shutil.rmtree(p) for p in (root / "train").iterdir()], "has no class folders"),
    (lambda root: [p.unlink() for p in (root / "train" / "square").iterdir() if not p.name.startswith("g00")],
     "class 'square' of shapes has 1 groups (group_pattern) in train/; the validation split needs at least 2"),
    (lambda root: (root / "train" / "circle" / "g00_999.png").write_bytes(b"not a png"), "cannot decode image"),
    (lambda root: (root / "train" / "circle" / "odd.png").write_bytes((root / "train/circle/g00_000.png").read_bytes()),
     "does not match group_pattern"),
    (lambda root: (root / "test" / "square").rename(root / "test" / "squares"), "class folders in"),
])
def test_bad_own_layouts_stop_at_import(tmp_path, mutate, message):
    root = make_shapes(tmp_path / "shapes")
    mutate(root)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_own(root, "shapes", None, r"^g(\d+)_", 2, None)


def test_names_file_must_name_every_folder(tmp_path):
    root = make_shapes(tmp_path / "shapes")
    names = tmp_path / "names.txt"
    names.write_text("circle: Circle\nsquare: Square\nhexagon: Hexagon\n")
    with pytest.raises(UserError, match=r"no name for \['triangle'\], names for folders that do not exist: \['hexagon'\]"):
        import_own(root, "shapes", names, None, 2, None)
    names.write_text("circle Circle\n")
    with pytest.raises(UserError, match="names.txt:1: expected '<folder>: <class name>'"):
        import_own(root, "shapes", names, None, 2, None)


def _params(tmp_path, datasets=None, models=None, augment=None):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["datasets"].update(datasets or {})
    raw["models"].update(models or {})
    raw["augment"].update(augment or {})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


OWN = {"shapes": {"archive_sha256": None, "imagefolder": "data/own/shapes", "group_pattern": r"^g(\d+)_"}}
LENET = yaml.safe_load((REPO / "params.yaml").read_text())["models"]["lenet5"]


@pytest.mark.parametrize("datasets,models,augment,message", [
    (OWN, None, None, "augment: no augmentation settings for dataset(s) shapes"),
    ({"cifar10": {"archive_sha256": None, "imagefolder": "data/own/x"}}, None, None,
     "datasets.cifar10.imagefolder: cifar10 is a built-in dataset; give your own dataset another name"),
    ({"Shapes": OWN["shapes"]}, None, {"Shapes": {"hflip": False, "crop_padding": 2}}, "datasets.Shapes: dataset names become"),
    ({"shapes": {**OWN["shapes"], "group_pattern": "g(("}}, None, {"shapes": {"hflip": False, "crop_padding": 2}},
     "datasets.shapes.group_pattern: is not a valid regular expression"),
    ({"shapes": {"archive_sha256": None, "group_pattern": "x"}}, None, None,
     "datasets.shapes.group_pattern: applies only to an own dataset"),
    (None, {"mine": LENET}, None, "models.mine: unknown model; built-in: lenet5, squeezenet, resnet18, or declare your own"),
    (None, {"mine": {**LENET, "builder": "own_models/mobilenet.py"}}, None, "models.mine.builder: 'own_models/mobilenet.py' is not an import path"),
    (None, {"mine": {**LENET, "builder": "os:system; rm -rf"}}, None, "is not an import path"),
    (None, {"mine": {**LENET, "builder": "os:_exit"}}, None, "is not an import path own_models.<module>:<function>"),
    (None, {"mine": {**LENET, "builder": "data.own.shapes.evil:f"}}, None, "is not an import path"),
    ({"shapes": {**OWN["shapes"], "imagefolder": "/srv/shapes"}}, None, {"shapes": {"hflip": False, "crop_padding": 2}},
     "datasets.shapes.imagefolder: '/srv/shapes' must be a relative path under data/own/"),
    ({"shapes": {**OWN["shapes"], "names_file": "data/own/../../names.txt"}}, None, {"shapes": {"hflip": False, "crop_padding": 2}},
     "datasets.shapes.names_file: 'data/own/../../names.txt' must be a relative path under data/own/"),
    (None, {"lenet5": {**LENET, "builder": "own_models.mobilenet:mobilenet_small"}}, None,
     "models.lenet5.builder: lenet5 is a built-in model"),
])
def test_own_declarations_are_checked(tmp_path, datasets, models, augment, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_params(_params(tmp_path, datasets, models, augment))


def test_declared_builder_is_used_and_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # builders are imported from the project root, as the stages run
    monkeypatch.setattr(sys, "path", list(sys.path))
    params = load_params(_params(tmp_path, models={"mobile": {**LENET, "builder": "own_models.mobilenet:mobilenet_small"}}))
    assert params.model("mobile").builder == "own_models.mobilenet:mobilenet_small"
    assert params.registry.names() == ["lenet5", "squeezenet", "resnet18", "mobile"]
    model = Classifier("mobile", 8, (0.5,) * 3, (0.25,) * 3, params.registry)
    assert model.builder == "own_models.mobilenet:mobilenet_small"
    assert model(torch.rand(4, 3, 32, 32)).shape == (4, 8)
    # loading params registers nothing globally: without the project's registry the name is unknown
    with pytest.raises(UserError, match="unknown model 'mobile'"):
        Classifier("mobile", 8, (0.5,) * 3, (0.25,) * 3)


BAD_BUILDERS = '''
import torch
from torch import nn

def not_a_module(num_classes):
    return "a string"

def wrong_logits(num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, num_classes + 1))

def wrong_input(num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, num_classes))

def raises(num_classes):
    raise RuntimeError("no weights file")
'''


@pytest.mark.parametrize("path,message", [
    ("no_such_module_xyz:build", "cannot import 'no_such_module_xyz'"),
    ("bad_builders_mod:missing", "has no function 'missing'"),
    ("bad_builders_mod:not_a_module", "returned str, not a torch.nn.Module"),
    ("bad_builders_mod:wrong_logits", r"one 3x32x32 input gives \(1, 6\), expected logits of shape \(1, 5\)"),
    ("bad_builders_mod:wrong_input", "the model fails on one 3x32x32 input"),
    ("bad_builders_mod:raises", "failed when called with num_classes=5 .RuntimeError: no weights file"),
])
def test_bad_builders_give_clear_errors(tmp_path, monkeypatch, path, message):
    (tmp_path / "bad_builders_mod.py").write_text(BAD_BUILDERS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(UserError, match=message):
        build_own("mine", path, 5)


def test_speed_limit_example_script(tmp_path):
    """The README's own-dataset example from a (synthetic) GTSRB copy: 8 classes, 64x64 PNG, track names kept."""
    import subprocess

    from conftest import make_tree

    make_tree(tmp_path / "gtsrb", "gtsrb", n_train=2, n_test=1, tracks=2)
    out = tmp_path / "own" / "speedlimits"
    cmd = [sys.executable, str(REPO / "scripts/make_speed_limits.py"), "--gtsrb", str(tmp_path / "gtsrb"), "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    folders = sorted(p.name for p in (out / "train").iterdir())
    assert folders == sorted(f"speed_{v}" for v in (20, 30, 50, 60, 70, 80, 100, 120))
    files = sorted((out / "train" / "speed_120").iterdir())
    assert [f.name for f in files] == [f"00008_0000{t}_0000{i}.png" for t in range(2) for i in range(2)]
    with Image.open(files[0]) as img:
        assert img.size == (64, 64) and img.mode == "RGB"
    names = (out.parent / "speedlimits-names.txt").read_text().splitlines()
    assert names[0] == "speed_20: Speed limit (20km/h)" and len(names) == 8
    spec, train, test = import_own(out, "speedlimits", out.parent / "speedlimits-names.txt", r"^(\d+_\d+)_", 2, None)
    assert spec.class_names[spec.folders.index("speed_120")] == "Speed limit (120km/h)"
    assert len(train.labels) == 8 * 4 and len(set(train.groups)) == 8 * 2 and len(test.labels) == 8
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode != 0 and "exists; remove it" in again.stderr
