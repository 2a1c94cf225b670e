"""Figures drawn with matplotlib's object API (no pyplot, no global backend state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from compression_audit.core.atomic import atomic_path


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


def exemplar_gallery(path: Path, images: np.ndarray, labels: np.ndarray, rows: list[tuple[str, np.ndarray, np.ndarray,
                     np.ndarray]], class_names: list[str], title: str) -> None:
    """PNG: one row per variant of its compression-identified exemplars (test images whose modal prediction
    moved), each titled with its label and the baseline population's → the compressed population's answer.

    ``rows``: (variant, image indices, baseline modal classes, compressed modal classes), already cut to size.
    """
    cols = max([1] + [len(idx) for _, idx, _, _ in rows])
    fig = Figure(figsize=(1.45 * cols + 1.2, 1.75 * max(1, len(rows)) + 0.6), dpi=110, layout="constrained")
    axes = fig.subplots(max(1, len(rows)), cols, squeeze=False)
    for r, (variant, idx, modal_b, modal_c) in enumerate(rows):
        axes[r, 0].set_ylabel(variant, fontsize=9)
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(idx):
                ax.set_frame_on(False)
                continue
            i = idx[c]
            ax.imshow(images[i], interpolation="nearest")
            ax.set_title(_short(class_names[labels[i]], 16), fontsize=7)
            right = "green" if modal_c[c] == labels[i] else "crimson"
            ax.set_xlabel(f"{_short(class_names[modal_b[c]], 12)} →\n{_short(class_names[modal_c[c]], 12)}",
                          fontsize=6.5, color=right)
    if not rows:
        axes[0, 0].set_axis_off()
        axes[0, 0].text(0.5, 0.5, "no compression-identified exemplar", ha="center", va="center", fontsize=9)
    fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
