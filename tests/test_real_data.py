"""The offline copies in ../shared/datasets through the real import path (skipped where absent)."""

import numpy as np
import pytest
from conftest import REPO

from compression_audit.data.datasets import DATASETS
from compression_audit.data.imagefolder import find_local_source, import_local
from compression_audit.data.prepared import prepare
from compression_audit.data.splits import split_by_group

SHARED = REPO.parent / "shared" / "datasets"
SHA256 = {
    "cifar10": "d46e33981cd61e549b906b6503731ac39b3724659328b499aebd806c8d364cd4",
    "gtsrb": "fb00240e051d0577f8cebeb0da3f29d2ce31889fdd9f5a764b9e1127042603af",
}
# Official sizes: CIFAR-10 50,000 / 10,000 (balanced); GTSRB 39,209 / 12,630.
COUNTS = {"cifar10": (50_000, 10_000), "gtsrb": (39_209, 12_630)}


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/datasets on this machine")
@pytest.mark.parametrize("name", ["cifar10", "gtsrb"])
def test_real_import_and_split(name):
    spec = DATASETS[name]
    train, test = import_local(find_local_source(SHARED, name), spec, resize=False, expected_sha256=SHA256[name])
    assert (len(train.labels), len(test.labels)) == COUNTS[name]
    assert set(np.unique(train.labels)) == set(range(len(spec.folders)))
    data = prepare(spec, train, test, val_fraction=0.1, split_seed=0)
    n_val = len(data.labels["val"])
    assert 0.09 * COUNTS[name][0] <= n_val <= 0.13 * COUNTS[name][0]
    if name == "cifar10":
        assert np.array_equal(np.bincount(data.labels["val"]), [500] * 10)
        assert np.array_equal(np.bincount(test.labels), [1000] * 10)
    else:
        # 39,209 images = 1,307 tracks of 30; a track never sits on both sides of the split
        assert len(np.unique(train.groups)) == 1307
        tr, va = split_by_group(train.labels, train.groups, 0.1, 0)
        assert set(train.groups[tr]).isdisjoint(train.groups[va])
        assert len(va) == n_val
