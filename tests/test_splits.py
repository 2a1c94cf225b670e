import numpy as np

from compression_audit.data.splits import split_by_group


def _gtsrb_like(n_classes=5, tracks=10, per_track=30):
    labels = np.repeat(np.arange(n_classes), tracks * per_track)
    groups = np.array([f"{c}_{t}" for c in range(n_classes) for t in range(tracks) for _ in range(per_track)])
    return labels, groups


def test_no_track_on_both_sides_and_partition():
    labels, groups = _gtsrb_like()
    train, val = split_by_group(labels, groups, 0.1, seed=0)
    assert set(groups[train]).isdisjoint(groups[val])
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(labels)))
    # 10 tracks per class, 10 %: exactly one track (30 images) per class
    assert np.array_equal(np.bincount(labels[val]), [30] * 5)


def test_seeded():
    labels, groups = _gtsrb_like()
    a = split_by_group(labels, groups, 0.2, seed=3)
    b = split_by_group(labels, groups, 0.2, seed=3)
    c = split_by_group(labels, groups, 0.2, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_per_image_groups_are_stratified():
    labels = np.repeat(np.arange(10), 100)
    groups = np.arange(1000).astype(str)
    train, val = split_by_group(labels, groups, 0.1, seed=0)
    assert np.array_equal(np.bincount(labels[val]), [10] * 10)
    assert len(train) == 900
