import numpy as np
import pytest

from compression_audit.core.atomic import atomic_dir, atomic_path, write_json


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("{half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failed_directory_write_keeps_old_output_and_no_temp(tmp_path):
    target = tmp_path / "prepared"
    with atomic_dir(target) as tmp:
        np.save(tmp / "a.npy", np.arange(3))
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            np.save(tmp / "a.npy", np.arange(5))
            raise RuntimeError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["prepared"]
    assert np.array_equal(np.load(target / "a.npy"), np.arange(3))


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path):
    (tmp_path / ".m.json.abc123.tmp").write_text("half")  # what SIGKILL leaves behind
    (tmp_path / ".other.json.x.tmp").write_text("not ours")
    write_json(tmp_path / "m.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.x.tmp", "m.json"]
