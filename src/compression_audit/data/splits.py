"""Seeded index selections: the validation split that keeps groups (GTSRB tracks) on one side, and
class-stratified test subsets (saliency, corruptions)."""

from __future__ import annotations

import numpy as np


def split_by_group(
    labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted (train_idx, val_idx) with about ``fraction`` of each class in validation.

    Args:
        labels: (N,) int class labels.
        groups: (N,) group ids; all samples of a group go to the same side.
        fraction: share of each class's samples to hold out, in (0, 1).
        seed: the split's seed; the same inputs and seed give the same split.

    Each class contributes whole groups, drawn in a seeded random order until its
    validation share reaches round(fraction * class size); every class keeps at
    least one group on each side when it has two or more.
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    val_mask = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        class_groups, sizes = np.unique(groups[members], return_counts=True)
        order = rng.permutation(len(class_groups))
        target = round(fraction * len(members))
        taken, chosen = 0, []
        for g in order:
            if taken >= target or len(chosen) >= len(class_groups) - 1:
                break
            chosen.append(class_groups[g])
            taken += sizes[g]
        if not chosen and len(class_groups) > 1:
            chosen.append(class_groups[order[0]])
        val_mask[members[np.isin(groups[members], chosen)]] = True
    return np.flatnonzero(~val_mask), np.flatnonzero(val_mask)


def stratified_subset(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset with an equal share per class (all samples when ``count`` is 0 or too large).

    Classes with fewer samples than their share give their remainder to the others, so the
    subset has exactly ``min(count, N)`` samples; equal shares keep per-class averages usable on
    imbalanced test sets (GTSRB's smallest classes have 60 test images).
    """
    n = len(labels)
    if count <= 0 or count >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    pools = {k: rng.permutation(np.flatnonzero(labels == k)) for k in np.unique(labels)}
    take = dict.fromkeys(pools, 0)
    remaining = count
    while remaining:
        open_classes = [k for k in pools if take[k] < len(pools[k])]
        share = max(1, remaining // len(open_classes))
        for k in open_classes:
            extra = min(share, len(pools[k]) - take[k], remaining)
            take[k] += extra
            remaining -= extra
            if not remaining:
                break
    return np.sort(np.concatenate([pools[k][: take[k]] for k in pools]))
