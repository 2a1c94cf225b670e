import numpy as np
import pytest
from conftest import make_archive, make_tree
from PIL import Image

from compression_audit.core.errors import UserError
from compression_audit.data.datasets import DATASETS
from compression_audit.data.imagefolder import find_local_source, import_local, sha256_of

CIFAR = DATASETS["cifar10"]
GTSRB = DATASETS["gtsrb"]


def _check(raw, expected):
    assert raw.images.shape == (len(expected), 32, 32, 3) and raw.images.dtype == np.uint8
    for (pixels, label), got, got_label in zip(expected, raw.images, raw.labels):
        assert got_label == label
        assert np.array_equal(got, pixels)


def test_directory_import_keeps_pixels_and_labels(cifar_tree):
    root, expected = cifar_tree
    train, test = import_local(root, CIFAR, resize=False, expected_sha256=None)
    _check(train, expected["train"])
    _check(test, expected["test"])
    assert len(set(train.groups)) == len(train.groups)  # CIFAR-10 splits per image


def test_archive_import_with_checksum(cifar_tree, tmp_path):
    root, expected = cifar_tree
    archive = make_archive(root, tmp_path / "cifar10.tar.gz")
    train, test = import_local(archive, CIFAR, resize=False, expected_sha256=sha256_of(archive))
    _check(train, expected["train"])
    _check(test, expected["test"])


def test_gtsrb_groups_are_tracks(tmp_path):
    make_tree(tmp_path / "gtsrb", "gtsrb", n_train=3, n_test=1, tracks=2)
    train, _ = import_local(tmp_path / "gtsrb", GTSRB, resize=False, expected_sha256=None)
    assert len(train.labels) == 43 * 6
    assert len(set(train.groups)) == 43 * 2
    assert set(train.groups[train.labels == 5]) == {"5_0", "5_1"}


def test_checksum_mismatch(cifar_tree, tmp_path):
    archive = make_archive(cifar_tree[0], tmp_path / "cifar10.tar.gz")
    with pytest.raises(UserError, match="checksum mismatch.*archive_sha256"):
        import_local(archive, CIFAR, resize=False, expected_sha256="0" * 64)


def test_truncated_archive(cifar_tree, tmp_path):
    archive = make_archive(cifar_tree[0], tmp_path / "cifar10.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        import_local(archive, CIFAR, resize=False, expected_sha256=None)


def test_missing_source_names_fix(tmp_path):
    with pytest.raises(UserError, match="COMPRESSION_AUDIT_DATA_DIR"):
        find_local_source(tmp_path, "cifar10")


def test_class_folders_must_match(cifar_tree):
    root, _ = cifar_tree
    (root / "train" / "cat").rename(root / "train" / "kitten")
    with pytest.raises(UserError, match=r"missing \['cat'\], unexpected \['kitten'\]"):
        import_local(root, CIFAR, resize=False, expected_sha256=None)


def test_empty_class_folder(cifar_tree):
    root, _ = cifar_tree
    for f in (root / "test" / "dog").iterdir():
        f.unlink()
    with pytest.raises(UserError, match="dog has no images"):
        import_local(root, CIFAR, resize=False, expected_sha256=None)


def test_undecodable_image(cifar_tree):
    root, _ = cifar_tree
    victim = sorted((root / "train" / "frog").iterdir())[0]
    victim.write_bytes(b"not an image at all")
    with pytest.raises(UserError, match=f"cannot decode image .*{victim.name}"):
        import_local(root, CIFAR, resize=False, expected_sha256=None)


@pytest.mark.parametrize("size,mode", [(48, "RGB"), (32, "L"), (32, "RGBA")])
def test_wrong_size_or_mode_is_an_error_unless_resize(tmp_path, size, mode):
    root = tmp_path / "cifar10"
    make_tree(root, "cifar10", n_train=1, n_test=1, size=size, mode=mode)
    with pytest.raises(UserError, match="expected 32x32 RGB; set data.resize: true"):
        import_local(root, CIFAR, resize=False, expected_sha256=None)
    train, _ = import_local(root, CIFAR, resize=True, expected_sha256=None)
    assert train.images.shape == (10, 32, 32, 3)


def test_resize_is_pil_bilinear(tmp_path):
    root = tmp_path / "cifar10"
    make_tree(root, "cifar10", n_train=1, n_test=1, size=64)
    first = sorted((root / "train" / "airplane").iterdir())[0]
    expected = np.asarray(Image.open(first).convert("RGB").resize((32, 32), Image.Resampling.BILINEAR))
    train, _ = import_local(root, CIFAR, resize=True, expected_sha256=None)
    assert np.array_equal(train.images[0], expected)
