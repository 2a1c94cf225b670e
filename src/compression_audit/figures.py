"""Figures drawn with matplotlib's object API (no pyplot, no global backend state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from compression_audit.atomic import atomic_path


def _short(name: str, width: int = 22) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def saliency_grid(path: Path, images: np.ndarray, base_maps: np.ndarray, var_maps: np.ndarray, labels: np.ndarray,
                  base_pred: np.ndarray, var_pred: np.ndarray, class_names: list[str], mad: np.ndarray, title: str,
                  per_group: int) -> None:
    """PNG grid: the ``per_group`` most changed samples, then up to ``per_group`` flipped ones (largest MAD first).

    Columns: input image, baseline map, variant map, difference (variant − baseline).
    """
    order = np.argsort(-mad, kind="stable")
    changed = list(order[:per_group])
    flipped = [i for i in order if base_pred[i] != var_pred[i] and i not in changed][:per_group]
    rows = [("most changed", i) for i in changed] + [("flipped", i) for i in flipped]
    fig = Figure(figsize=(8.4, 2.0 * max(1, len(rows)) + 0.8), dpi=110, layout="constrained")
    axes = fig.subplots(max(1, len(rows)), 4, squeeze=False)
    headers = ("input", "baseline map", "variant map", "difference (variant − baseline)")
    for col, header in enumerate(headers):
        axes[0, col].set_title(header, fontsize=9)
    for row, (group, i) in enumerate(rows):
        ax = axes[row]
        ax[0].imshow(images[i], interpolation="nearest")
        ax[1].imshow(base_maps[i], cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
        ax[2].imshow(var_maps[i], cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
        ax[3].imshow(var_maps[i] - base_maps[i], cmap="coolwarm", vmin=-1, vmax=1, interpolation="nearest")
        b, c = class_names[base_pred[i]], class_names[var_pred[i]]
        ax[0].set_ylabel(f"{group}\n{_short(class_names[labels[i]])}", fontsize=8)
        ax[1].set_xlabel(f"pred: {_short(b, 18)}", fontsize=7)
        ax[2].set_xlabel(f"pred: {_short(c, 18)}", fontsize=7, color="crimson" if b != c else "black")
        ax[3].set_xlabel(f"MAD {mad[i]:.1f} %", fontsize=7)
        for a in ax:
            a.set_xticks([])
            a.set_yticks([])
    if not rows:
        for a in axes[0]:
            a.set_axis_off()
    fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
