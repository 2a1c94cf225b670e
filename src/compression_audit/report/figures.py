"""The report's figures, drawn from the stages' outputs with matplotlib's object API; each returns PNG bytes."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from compression_audit.core.config import is_noise_floor
from compression_audit.report.collect import Cell

FLOOR_COLOR = "#7f7f7f"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _label(variant: str) -> str:
    return f"{variant} (noise floor)" if is_noise_floor(variant) else variant


def class_heatmap(cell: Cell) -> bytes:
    """Per-class recall change (pp) per variant; * marks a change that survives Holm correction."""
    comps = list(cell.comparisons.values())
    names = comps[0].details["class_names"]
    delta = np.array([[r["delta_pp"] if r["delta_pp"] is not None else np.nan for r in c.details["per_class"]] for c in comps])
    sig = np.array([[r["significant"] for r in c.details["per_class"]] for c in comps])
    limit = max(5.0, float(np.nanmax(np.abs(delta)))) if delta.size else 5.0
    width = min(22.0, max(8.0, 2.5 + 0.32 * len(names)))
    fig = Figure(figsize=(width, 1.2 + 0.45 * len(comps)), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(delta, cmap="coolwarm_r", vmin=-limit, vmax=limit, aspect="auto")
    for i, j in zip(*np.nonzero(sig)):
        ax.text(j, i, "*", ha="center", va="center", fontsize=11, fontweight="bold")
    ax.set_yticks(range(len(comps)), [_label(c.variant) for c in comps], fontsize=8)
    ax.set_xticks(range(len(names)), [n[:18] for n in names], rotation=70, ha="right", fontsize=7)
    fig.colorbar(im, ax=ax, label="Δ recall (pp)", shrink=0.9)
    ax.set_title(f"{cell.name}: Δ recall per class vs baseline (* significant after Holm)", fontsize=10)
    return _png(fig)


def confusion_changes(cell: Cell) -> bytes:
    """Difference of confusion matrices (variant − baseline) per variant, diagonal masked."""
    comps = list(cell.comparisons.values())
    k = len(comps[0].details["class_names"])
    cols = min(3, len(comps))
    rows = int(np.ceil(len(comps) / cols))
    fig = Figure(figsize=(4.2 * cols, 3.8 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, c in zip(axes, comps):
        d = np.array(c.details["confusion_delta"], dtype=float)
        np.fill_diagonal(d, np.nan)
        limit = max(1.0, float(np.nanmax(np.abs(d)))) if k > 1 else 1.0
        im = ax.imshow(d, cmap="PuOr", vmin=-limit, vmax=limit)
        ax.set_title(f"{_label(c.variant)}: {c.details['flips']} flips", fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.tick_params(labelsize=6)
        if k <= 12:  # names fit; GTSRB's 43 stay indices (the tables below name the classes)
            names = [n[:10] for n in c.details["class_names"]]
            ax.set_xticks(range(k), names, rotation=60, ha="right")
            ax.set_yticks(range(k), names)
        fig.colorbar(im, ax=ax, shrink=0.8)
    for ax in axes[len(comps):]:
        ax.set_axis_off()
    fig.suptitle(f"{cell.name}: change in confusion counts, off-diagonal (variant − baseline)", fontsize=10)
    return _png(fig)


def confidence_shift(cell: Cell) -> bytes:
    """Confidence shift quantiles (5/25/50/75/95 %) for stable and flipped samples, per variant."""
    comps = list(cell.comparisons.values())
    stats, positions, colors = [], [], []
    for i, c in enumerate(comps):
        for j, group in enumerate(("stable", "flipped")):
            s = c.details["confidence_shift"][group]
            if s["n"] == 0:
                continue
            stats.append({"med": s["q50"], "q1": s["q25"], "q3": s["q75"], "whislo": s["q05"], "whishi": s["q95"],
                          "mean": s["mean"], "label": ""})
            positions.append(i * 3 + j)
            colors.append("#4c72b0" if group == "stable" else "#dd5555")
    fig = Figure(figsize=(1.6 + 1.3 * len(comps), 3.6), layout="constrained")
    ax = fig.subplots()
    if stats:
        boxes = ax.bxp(stats, positions=positions, showmeans=True, showfliers=False, patch_artist=True, widths=0.8)
        for patch, color in zip(boxes["boxes"], colors):
            patch.set_facecolor(color)
            patch.set_alpha(0.6)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([i * 3 + 0.5 for i in range(len(comps))], [_label(c.variant) for c in comps], fontsize=8, rotation=15)
    ax.set_ylabel("confidence(variant) − confidence(baseline)")
    ax.set_title(f"{cell.name}: confidence shift, stable (blue) vs flipped (red) samples; whiskers 5-95 %", fontsize=10)
    return _png(fig)


def reliability(cell: Cell) -> bytes:
    """Reliability diagrams: accuracy per confidence bin for the baseline and every variant."""
    comps = list(cell.comparisons.values())
    fig = Figure(figsize=(5.2, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":", label="perfect calibration")
    base = comps[0].details["reliability_b"]
    pts = [(r["confidence"], r["accuracy"]) for r in base if r["count"]]
    ax.plot(*zip(*pts), marker="o", color="black", lw=2, label=f"baseline (ECE {comps[0].details['ece_b']:.3f})")
    for c in comps:
        pts = [(r["confidence"], r["accuracy"]) for r in c.details["reliability"] if r["count"]]
        style = {"color": FLOOR_COLOR, "ls": "--"} if c.is_noise_floor else {}
        ax.plot(*zip(*pts), marker=".", lw=1, label=f"{_label(c.variant)} (ECE {c.details['ece']:.3f})", **style)
    ax.set_xlabel("mean confidence in bin (15 equal-width bins)")
    ax.set_ylabel("accuracy in bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"{cell.name}: reliability", fontsize=10)
    return _png(fig)


def saliency_mad(cell: Cell, method: str) -> bytes:
    """Distribution of per-sample saliency MAD per variant, next to the noise floor, with the study's 7.5 %."""
    comps = [c for c in cell.comparisons.values() if c.saliency_samples is not None]
    data, labels, colors = [], [], []
    for c in comps:
        df = c.saliency_samples
        data.append(df.loc[df["method"] == method, "mad_pct"].to_numpy())
        labels.append(_label(c.variant))
        colors.append(FLOOR_COLOR if c.is_noise_floor else "#4c72b0")
    fig = Figure(figsize=(1.6 + 1.3 * len(comps), 3.6), layout="constrained")
    ax = fig.subplots()
    if data and all(len(d) for d in data):
        parts = ax.violinplot(data, showmedians=True, showextrema=False)
        for body, color in zip(parts["bodies"], colors):
            body.set_facecolor(color)
            body.set_alpha(0.6)
    ax.axhline(7.5, color="crimson", lw=1, ls="--", label="study: ~7.5 %")
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8, rotation=15)
    ax.set_ylabel(f"MAD of {method} maps (%)")
    ax.legend(fontsize=8)
    ax.set_title(f"{cell.name}: saliency change per image (grey = noise floor)", fontsize=10)
    return _png(fig)


def corruption_accuracy(cell: Cell) -> bytes:
    """Accuracy per severity, averaged over corruptions (left), and excess error per corruption (right)."""
    comps = [c for c in cell.comparisons.values() if c.details.get("robustness")]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    first = comps[0].details["robustness"]
    kinds = list(first["per_kind"])
    severities = np.arange(first["severities"] + 1)
    base = [first["clean_baseline_accuracy"]] + list(np.mean([first["per_kind"][k]["baseline_accuracy"] for k in kinds], axis=0))
    left.plot(severities, 100 * np.array(base), marker="o", color="black", lw=2, label="baseline")
    width = 0.8 / len(comps)
    for i, c in enumerate(comps):
        r = c.details["robustness"]
        acc = [r["clean_accuracy"]] + list(np.mean([r["per_kind"][k]["accuracy"] for k in kinds], axis=0))
        style = {"color": FLOOR_COLOR, "ls": "--"} if c.is_noise_floor else {}
        line = left.plot(severities, 100 * np.array(acc), marker=".", lw=1, label=_label(c.variant), **style)[0]
        excess = [np.mean(r["per_kind"][k]["excess_error_pp"]) for k in kinds]
        right.bar(np.arange(len(kinds)) + (i - (len(comps) - 1) / 2) * width, excess, width,
                  color=line.get_color(), label=_label(c.variant))
    left.set_xticks(severities, ["clean", *map(str, severities[1:])])
    left.set_xlabel("severity (mean over corruptions)")
    left.set_ylabel("accuracy %")
    left.legend(fontsize=7)
    right.axhline(0, color="black", lw=0.8)
    right.set_xticks(range(len(kinds)), [k.replace("_", " ") for k in kinds], rotation=30, ha="right", fontsize=8)
    right.set_ylabel("excess error pp (mean over severities)")
    fig.suptitle(f"{cell.name}: robustness under corruptions ({first['n']} test images each)", fontsize=10)
    return _png(fig)
