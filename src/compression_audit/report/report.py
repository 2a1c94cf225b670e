"""The report stage's work: one self-contained HTML page and a Markdown summary that answer
"what did compression change?", section by section as the study reports it."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from compression_audit.core.atomic import write_json, write_text
from compression_audit.core.config import Params, activation_qmax, is_noise_floor
from compression_audit.core.environment import environment
from compression_audit.core.progress import log
from compression_audit.report import figures as figs
from compression_audit.report.collect import STUDY, Cell, baseline_size_and_speed, collect, size_and_speed

SECTIONS = (
    ("verdict", "Deployment verdict"),
    ("overview", "What was measured"),
    ("study", "Study vs this run"),
    ("overall", "Overall impact"),
    ("classes", "Class-level changes"),
    ("confusion", "Confusion changes"),
    ("confidence", "Confidence"),
    ("calibration", "Calibration"),
    ("robustness", "Corruptions"),
    ("qat", "QAT vs PTQ"),
    ("population", "Seed population"),
    ("saliency", "Saliency"),
)

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 0 auto; max-width: 1280px; padding: 1rem 2rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #ddd; padding-top: 0.8rem; } h3 { margin-bottom: 0.3rem; }
nav a { margin-right: 1rem; } .lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; } th { background: #f3f3f3; }
td.l, th.l { text-align: left; } tr.floor td { color: #666; background: #fafafa; font-style: italic; }
td.bad { background: #fde2e1; } td.ok { background: #e3f4e1; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.8rem; padding-top: 0.3rem; }
img { max-width: 100%; } details { margin: 0.4rem 0; } summary { cursor: pointer; color: #245; }
"""


def _f(value, fmt: str = "{:.2f}", none: str = "–") -> str:
    return none if value is None else fmt.format(value)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(header: list[str], rows: list[tuple[list[str], str]], caption: str, text_columns: int = 1) -> str:
    """An HTML table; the first ``text_columns`` are left-aligned labels, the rest right-aligned numbers."""
    head = "".join(f'<th class="{"l" if i < text_columns else ""}">{html.escape(h)}</th>' for i, h in enumerate(header))
    body = []
    for cells, cls in rows:
        tds = "".join(f'<td class="{"l" if i < text_columns else ""}">{c}</td>' for i, c in enumerate(cells))
        body.append(f'<tr class="{cls}">{tds}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody><caption>{caption}</caption></table>"


def _worst_class(c) -> dict | None:
    rows = [r for r in c.details["per_class"] if r["delta_pp"] is not None]
    return max(rows, key=lambda r: (abs(r["delta_pp"]), -r["class"])) if rows else None


def _mad(c, method: str) -> dict | None:
    if not c.saliency:
        return None
    return c.saliency["methods"].get(method, {}).get("mad_pct")


def _context(params: Params, cells: list[Cell]) -> str:
    ns = {cell.dataset: cell.comparisons[next(iter(cell.comparisons))].details["n"] for cell in cells if cell.comparisons}
    n_text = ", ".join(f"{d}: n = {n:,} test images" for d, n in ns.items())
    floor = [v for v in params.evaluate.variants if is_noise_floor(v)]
    return (f"{n_text}; baseline = seed {params.seeds[0]}"
            + (f", noise floor = {', '.join(floor)} (same recipe, another seed)" if floor else ", no noise floor configured")
            + f"; per-class intervals: 95 % bootstrap ({params.evaluate.bootstrap_resamples} resamples), "
            f"exact McNemar, Holm-corrected at α = {params.evaluate.alpha}.")


def overall_rows(cell: Cell, method: str) -> list[tuple[list[str], str]]:
    base_bytes, base_speed = baseline_size_and_speed(cell)
    floor = cell.noise_floor
    rows = []
    base_acc = next(iter(cell.comparisons.values())).details["accuracy_b"]
    rows.append(([cell.dataset, cell.model, "baseline", _f(100 * base_acc), "", "0 %",
                  _f(base_bytes / 1e6 if base_bytes else None, "{:.2f} MB"), _f(base_speed, "{:,.0f}"),
                  "", "", "", "", "", ""], ""))
    for c in cell.comparisons.values():
        size, sparsity, speed = size_and_speed(cell, c.variant)
        h, worst, mad = c.headline, _worst_class(c), _mad(c, method)
        exceeds = floor is not None and not c.is_noise_floor and h["flip_rate"] > floor.headline["flip_rate"]
        rows.append(([
            cell.dataset, cell.model, html.escape(c.variant + (" (noise floor)" if c.is_noise_floor else "")),
            _f(100 * h["accuracy"]), _f(h["delta_accuracy_pp"], "{:+.2f}"),
            _f(100 * sparsity if sparsity is not None else None, "{:.1f} %"),
            _f(size / 1e6 if size else None, "{:.2f} MB") + (f" ({base_bytes / size:.1f}×)" if size and base_bytes else ""),
            _f(speed, "{:,.0f}") + (f" ({speed / base_speed:.1f}×)" if speed and base_speed else ""),
            _f(100 * h["flip_rate"]) + (" ▲" if exceeds else ""),
            _f(100 * h["negative_flip_rate"]),
            _f(100 * floor.headline["flip_rate"] if floor else None),
            _f(h["delta_ece"], "{:+.4f}"),
            (f"{html.escape(worst['name'])} {worst['delta_pp']:+.1f} [{worst['ci_low_pp']:+.1f}, {worst['ci_high_pp']:+.1f}]"
             + (" *" if worst["significant"] else "")) if worst else "–",
            (f"{mad['mean']:.2f} [{mad['ci_low']:.2f}, {mad['ci_high']:.2f}]" if mad and mad["mean"] is not None else "–"),
        ], "floor" if c.is_noise_floor else ""))
    return rows


OVERALL_HEADER = ["dataset", "model", "variant", "accuracy %", "Δ pp", "sparsity", "size", "CPU img/s",
                  "flip %", "neg. flip %", "floor flip %", "ΔECE", "largest class Δ pp [95 % CI]", "saliency MAD % [95 % CI]"]


def study_rows(params: Params, cells: list[Cell], method: str) -> list[tuple[list[str], str]]:
    """Each study headline next to this run's range over cells, per variant, and the noise floor's range."""
    variants = [v for v in params.evaluate.variants if not is_noise_floor(v)]
    floors = [c.noise_floor for c in cells if c.noise_floor]

    def rng(values, fmt):
        values = [v for v in values if v is not None]
        return "–" if not values else (fmt.format(min(values)) if len(values) == 1 or min(values) == max(values)
                                       else f"{fmt.format(min(values))} … {fmt.format(max(values))}")

    def per_variant(get, fmt, limit=None, larger_is_worse=True):
        out = []
        for v in variants:
            vals = [get(cell.comparisons[v]) for cell in cells if v in cell.comparisons]
            text = rng(vals, fmt)
            vals = [x for x in vals if x is not None]
            if limit is not None and vals:
                worst = max(vals) if larger_is_worse else min(vals)
                ok = worst <= limit if larger_is_worse else worst >= limit
                text = f'<span title="{"within" if ok else "beyond"} the study\'s figure">{text} {"✓" if ok else "✗"}</span>'
            out.append(text)
        return out

    def worst_abs(c):
        w = _worst_class(c)
        return abs(w["delta_pp"]) if w else None

    def mad_mean(c):
        m = _mad(c, method)
        return m["mean"] if m else None

    rows = [
        (["accuracy drop (pp)", f"< {STUDY['accuracy_drop_pp']:.0f}",
          *per_variant(lambda c: -c.headline["delta_accuracy_pp"], "{:.2f}", STUDY["accuracy_drop_pp"]),
          rng([-f.headline["delta_accuracy_pp"] for f in floors], "{:.2f}")], ""),
        (["weights pruned", f"≤ {100 * STUDY['pruned_fraction']:.1f} %",
          *[rng([cell.prune["sparsity"] * 100 for cell in cells], "{:.1f} %") if v.startswith("pruned") else "–" for v in variants],
          "–"], ""),
        (["predictions that flip", f"≤ {100 * STUDY['flip_rate']:.1f} %",
          *per_variant(lambda c: 100 * c.headline["flip_rate"], "{:.2f} %", 100 * STUDY["flip_rate"]),
          rng([100 * f.headline["flip_rate"] for f in floors], "{:.2f} %")], ""),
        (["largest per-class change (abs. pp)", f"≤ {STUDY['class_change_pp']:.0f}",
          *per_variant(worst_abs, "{:.1f}", STUDY["class_change_pp"]),
          rng([worst_abs(f) for f in floors], "{:.1f}")], ""),
        (["classes changed significantly (Holm)", "–",
          *per_variant(lambda c: c.headline["significant_classes"], "{:d}"),
          rng([f.headline["significant_classes"] for f in floors], "{:d}")], ""),
        ([f"saliency MAD ({method})", f"~{STUDY['saliency_mad_pct']:.1f} %",
          *per_variant(mad_mean, "{:.2f} %"), rng([mad_mean(f) for f in floors], "{:.2f} %")], ""),
        (["ΔECE", "–", *per_variant(lambda c: c.headline["delta_ece"], "{:+.4f}"),
          rng([f.headline["delta_ece"] for f in floors], "{:+.4f}")], ""),
    ]
    return rows


def _value(row: dict) -> str:
    if row["value"] is None:
        return "no floor"
    unit = row["unit"]
    return f"{row['value']:.4f}" if unit == "ECE" else (f"{row['value']:.2f}×" if unit.startswith("×") else f"{row['value']:.2f} {unit}")


def robustness_section(params: Params, cells: list[Cell], context: str) -> str:
    """Each variant on the corrupted images next to the baseline: one figure and one table per cell."""
    kinds = ", ".join(f"{k} {list(v)}" for k, v in params.corruptions.kinds.items())
    parts = ['<h2 id="robustness">Robustness under corruptions</h2>'
             f"<p>{params.corruptions.images or 'All'} test images per dataset (equal share per class, seed "
             f"{params.corruptions.seed}) under each corruption and severity (CIFAR-10-C strengths): "
             f"{html.escape(kinds)}. mCE: mean top-1 error over every corruption and severity. Excess error: the "
             "variant's error minus the baseline's on the same corrupted images (what compression added under "
             "shift); the noise floor row is the same for another seed's baseline.</p>"]
    for cell in cells:
        comps = [c for c in cell.comparisons.values() if c.details.get("robustness")]
        if not comps:
            continue
        rows = []
        for c in comps:
            r, speed = c.details["robustness"], cell.predict.get(c.variant, {}).get("timing", {})
            rows.append(([html.escape(c.variant), _f(100 * r["clean_accuracy"]), _f(100 * r["mean_accuracy"]),
                          _f(r["baseline_mce_pct"]), _f(r["mce_pct"]), _f(r["excess_error_pp"], "{:+.2f}"),
                          _f(100 * r["clean_flip_rate"]), _f(100 * r["flip_rate"]),
                          _f(speed.get("corrupted_images_per_s"), "{:,.0f}")],
                         "floor" if c.is_noise_floor else ""))
        parts.append(f"<h3>{cell.name}</h3>" + _img(figs.corruption_accuracy(cell), f"{cell.name} corruptions")
                     + _table(["variant", "clean acc %", "corrupted acc %", "mCE baseline %", "mCE variant %",
                               "excess error pp", "flips clean %", "flips corrupted %", "corrupted img/s"], rows,
                              html.escape(context + f" Clean columns on the same {comps[0].details['robustness']['n']} "
                                          "images; img/s: the variant's own inference path (int8 kernels for "
                                          "quantized variants) over every corrupted image.")))
    return "".join(parts)


def qat_pairs(params: Params, cell: Cell) -> list[tuple[str, str]]:
    """(post-training variant, QAT variant) at the same bit widths, both compared in ``cell``."""
    q = params.quantize.variants
    pairs = []
    for name, v in q.items():
        if not v.qat_epochs or name not in cell.comparisons:
            continue
        ptq = next((n for n, w in q.items() if not w.qat_epochs and n in cell.comparisons
                    and (w.weight_bits, w.activation_bits) == (v.weight_bits, v.activation_bits)), None)
        if ptq:
            pairs.append((ptq, name))
    return pairs


def qat_section(params: Params, cells: list[Cell], method: str, context: str) -> str:
    """Quantization-aware training next to post-training quantization at the same bit widths."""
    rows = []
    for cell in cells:
        for ptq, qat in qat_pairs(params, cell):
            for name in (ptq, qat):
                c, quant = cell.comparisons[name], cell.quantize[name]
                worst, mad, trained = _worst_class(c), _mad(c, method), quant["qat"]
                robust = c.details.get("robustness") or {}
                rows.append(([
                    cell.name, html.escape(name), f"W{quant['weight_bits']}A{quant['activation_bits']}",
                    f"QAT, {trained['epochs']} ep." if trained else "PTQ",
                    (f"{100 * trained['val_acc_before']:.2f} → {100 * trained['val_acc_after']:.2f}" if trained
                     else _f(100 * quant["val_acc"])),
                    _f(100 * c.headline["accuracy"]), _f(c.headline["delta_accuracy_pp"], "{:+.2f}"),
                    _f(100 * c.headline["flip_rate"]),
                    (f"{html.escape(worst['name'])} {worst['delta_pp']:+.1f}" + (" *" if worst["significant"] else ""))
                    if worst else "–",
                    _f(mad["mean"] if mad else None), _f(robust.get("excess_error_pp"), "{:+.2f}"),
                    _f(quant["timing"].get("qat_seconds") if trained else None, "{:,.0f}"),
                ], ""))
    intro = ('<h2 id="qat">Quantization-aware training vs post-training quantization</h2>'
             "<p>QAT fine-tunes the calibrated fake-quant twin (BatchNorm folded, quantization grid frozen at its "
             "calibrated scales) with the baseline's recipe at a small learning rate, then converts it to the same "
             "int8 kernels; PTQ converts the calibrated twin directly. Each pair shares its bit widths; the "
             "validation column shows the twin before → after fine-tuning (the int8 model's for PTQ).</p>")
    if not rows:
        return intro + "<p>No QAT variant is compared next to a post-training variant of the same bit widths "  \
            "(params.yaml: quantize.variants.&lt;name&gt;.qat_epochs and evaluate.variants).</p>"
    return intro + _table(["cell", "variant", "bits", "method", "val acc %", "test acc %", "Δ pp", "flip %",
                           "largest class Δ pp", "saliency MAD %", "excess error pp", "QAT s"], rows,
                          html.escape(context), text_columns=4)


def _mean_sd(s: dict, scale: float = 1.0, fmt: str = "{:+.2f}") -> str:
    mean = fmt.format(scale * s["mean"])
    return mean if s["sd"] is None else f"{mean} ± {scale * s['sd']:.2f}"


def population_section(params: Params, cells: list[Cell]) -> str:
    """Every compressed variant as a population over seeds: spread, Welch-significant classes, exemplars."""
    intro = ('<h2 id="population">Seed population: spread, per-class tests and compression-identified exemplars</h2>'
             "<p>Every seed's baseline is compressed the same way (Hooker et al. 2019). Each row: the variant's change "
             "against its own seed's baseline, mean ± standard deviation over seeds; the classes whose recall, "
             "normalised by the model's accuracy, differs between the compressed and the baseline population (Welch's "
             f"t-test across seeds, Holm-corrected, α = {params.evaluate.alpha}); and the compression-identified "
             "exemplars (CIEs): test images whose modal prediction over the compressed population differs from the "
             "modal prediction over the baselines (ties: larger mean probability). Baseline accuracy on the CIEs far "
             "below its overall accuracy means compression forgets the hard, atypical images first.</p>")
    parts = []
    for cell in cells:
        pop = cell.population
        if pop is None:
            continue
        rows = []
        for variant, v in pop["variants"].items():
            sp, cie = v["spread"], v["cie"]
            rows.append(([
                html.escape(variant), str(len(v["members"])), _mean_sd(sp["delta_accuracy_pp"]),
                _mean_sd(sp["flip_rate"], 100, "{:.2f}"), _mean_sd(sp["negative_flip_rate"], 100, "{:.2f}"),
                _mean_sd(sp["largest_class_abs_delta_pp"], 1, "{:.1f}"),
                _mean_sd(sp["saliency_mad_pct"], 1, "{:.2f}"),
                _mean_sd(sp["excess_error_pp"]), _mean_sd(sp["corrupted_flip_rate"], 100, "{:.2f}"),
                (html.escape(", ".join(v["significant_classes"])) or "none") + f" (of {v['tested_classes']} tested)",
                f"{cie['count']} ({100 * cie['fraction']:.2f} %)",
                _f(None if cie["baseline_accuracy_on_cie"] is None else 100 * cie["baseline_accuracy_on_cie"]),
                _f(100 * cie["baseline_accuracy_overall"]),
                _f(None if cie["compressed_accuracy_on_cie"] is None else 100 * cie["compressed_accuracy_on_cie"]),
            ], ""))
        gallery = (_img(cell.population_gallery.read_bytes(), f"{cell.name} compression-identified exemplars")
                   if cell.population_gallery and cell.population_gallery.is_file() else "")
        parts.append(f"<h3>{cell.name}</h3>" + _table(
            ["variant", "seeds", "Δacc pp", "flip %", "negative flip %", "largest |class Δ| pp",
             f"saliency MAD % ({html.escape(pop['saliency_method'])})", "corrupted: excess error pp",
             "corrupted: flip %", "Welch-significant classes",
             "CIEs (% of test)", "baseline acc on CIEs %", "baseline acc overall %", "compressed acc on CIEs %"], rows,
            html.escape(f"Seeds {pop['seeds']}; {len(pop['class_names'])} classes. Gallery: title = label, caption = "
                        "baseline → compressed modal prediction (green: the compressed population is right)."), 2)
            + (f"<details open><summary>{cell.name}: compression-identified exemplars</summary>{gallery}</details>"
               if gallery else ""))
    if not parts:
        return intro + "<p>The population stage has not run (a partial <code>dvc repro</code>).</p>"
    single = all(len(c.population["seeds"]) < 2 for c in cells if c.population)
    note = ("<p><b>One seed only</b> (params.yaml: population.seeds is empty): the populations are single models, so "
            "CIEs are the flips and no Welch test or spread exists.</p>" if single else "")
    return intro + note + "".join(parts)


def verdict_rows(cells: list[Cell]) -> list[tuple[list[str], str]]:
    """One row per cell and compressed variant: the verdict and each failing criterion, linked to its evidence."""
    rows = []
    for cell in cells:
        if not cell.verdict:
            continue
        for variant, v in cell.verdict["variants"].items():
            failing = []
            for name in v["failing"]:
                r = v["criteria"][name]
                limit = "needs a noise floor (another seed)" if r["value"] is None else f"> {r['threshold']:g}"
                what = f"{name}{' (' + html.escape(r['class']) + ')' if r.get('class') else ''}: {_value(r)} {limit}"
                failing.append(f'<a href="#{r["evidence"]}">{html.escape(what)}</a>')
            rows.append(([html.escape(cell.name), html.escape(variant),
                          f'<b>{v["verdict"]}</b>', "; ".join(failing) or "–"], "ok" if v["verdict"] == "PASS" else "bad"))
    return rows


def verdict_section(cells: list[Cell]) -> str:
    # the thresholds the verdict stage used (the report does not read params' gate: it reruns through the verdict)
    gate = next((c.verdict["gate"] for c in cells if c.verdict), {})
    thresholds = ", ".join(f"{k} = {v:g}" for k, v in gate.items())
    floors = sorted({f"{c.name}: {c.verdict['noise_floor'] or 'none'}" for c in cells if c.verdict})
    return ('<h2 id="verdict">Deployment verdict</h2>'
            "<p>A variant passes only if every criterion of params.yaml's <code>gate</code> holds (value ≤ threshold). "
            "Each failing criterion links to the section with its evidence. Criteria relative to the noise floor "
            "(another seed's baseline) fail where no second seed was evaluated. <code>compression-audit gate</code> "
            "prints the full table and exits non-zero on a FAIL.</p>"
            + _table(["cell", "variant", "verdict", "failing criteria (value vs threshold)"], verdict_rows(cells),
                     html.escape(f"Thresholds: {thresholds}. Noise floor per cell: {'; '.join(floors)}."), 4))


def summary_metrics(cells: list[Cell], method: str) -> dict:
    """The few numbers per cell and variant that `dvc exp show` and `dvc metrics diff` display."""
    out = {}
    for cell in cells:
        entry = {"baseline_acc": round(100 * next(iter(cell.comparisons.values())).details["accuracy_b"], 2)}
        for c in cell.comparisons.values():
            worst, mad = _worst_class(c), _mad(c, method)
            entry[c.variant] = {
                "d_acc_pp": round(c.headline["delta_accuracy_pp"], 2),
                "flip_pct": round(100 * c.headline["flip_rate"], 2),
                "class_pp": round(worst["delta_pp"], 1) if worst else None,
                "mad_pct": round(mad["mean"], 2) if mad and mad["mean"] is not None else None,
            }
            if c.headline.get("mce_pct") is not None:
                entry[c.variant]["mce_pct"] = c.headline["mce_pct"]
                entry[c.variant]["excess_error_pp"] = c.headline["excess_error_pp"]
            if cell.verdict and c.variant in cell.verdict["variants"]:
                entry[c.variant]["verdict"] = cell.verdict["variants"][c.variant]["verdict"]
            if cell.population and c.variant in cell.population["variants"]:
                entry[c.variant]["cie"] = cell.population["variants"][c.variant]["cie"]["count"]
        out[cell.name] = entry
    out["env"] = environment_line(cells)
    return out


def environment_line(cells: list[Cell]) -> str:
    """One string (one `dvc exp show` column): the report's library versions and the training devices."""
    env = environment({})
    devices = sorted({f"{t['env'].get('device', '?')} {t['env'].get('device_name', '')} {t['env'].get('precision', '')}".strip()
                      for c in cells for t in c.train.values() if "env" in t})
    return (f"torch {env['torch']}, numpy {env['numpy']}, scipy {env['scipy']}, python {env['python']}; "
            f"trained on {', '.join(devices) or 'unknown'}")


def build_report(params: Params, reports: Path, html_out: Path, markdown_out: Path, metrics_out: Path) -> None:
    cells, not_run = collect(params, reports)
    method = params.saliency.methods[0]
    context = _context(params, cells)
    log(f"report: {len(cells)} cells x {len(params.evaluate.variants)} comparisons")
    variants = [v for v in params.evaluate.variants if not is_noise_floor(v)]
    study_header = ["headline", "study", *variants, "noise floor"]
    study = study_rows(params, cells, method)
    overall = [row for cell in cells for row in overall_rows(cell, method)]
    qmax = sorted({activation_qmax(v.activation_bits, params.quantize.reduce_range) for v in params.quantize.variants.values()})
    cfg = (f"prune: {params.prune.scope}/{params.prune.structure}/{params.prune.score}, amount {params.prune.amount} "
           f"(tolerance {params.prune.tolerance_pp} pp); quantization: {', '.join(f'{k} = W{v.weight_bits}A{v.activation_bits}' for k, v in params.quantize.variants.items())} "
           f"({params.quantize.backend}, activations 0..{'/'.join(map(str, qmax))}, {params.quantize.calibration_images} calibration images), pruned model + {params.quantize.after_pruning}; "
           f"saliency: {', '.join(params.saliency.methods)} on {params.saliency.images or 'all'} test images per cell "
           f"(equal share per class, seed {params.saliency.seed}), target = {params.saliency.target}.")

    parts = [f"<h1>What did compression change?</h1><p class='lead'>{html.escape(context)}</p>",
             "<nav>" + "".join(f'<a href="#{sid}">{title}</a>' for sid, title in SECTIONS) + "</nav>",
             verdict_section(cells)]
    amounts = ", ".join(f"{c.name} {100 * c.prune['amount']:.1f} %" for c in cells)
    parts.append(f'<h2 id="overview">What was measured</h2><p>{len(cells)} cells (dataset × model), each compared with '
                 f"its baseline in {len(params.evaluate.variants)} ways. {html.escape(cfg)}</p>"
                 f"<p>Pruned fraction per cell: {html.escape(amounts)}. Train seeds: {list(params.seeds)}.</p>"
                 + (f"<p><b>Not run</b> (no trained baseline; run <code>dvc repro</code> for them): "
                    f"{html.escape(', '.join(not_run))}.</p>" if not_run else ""))
    parts.append('<h2 id="study">Study vs this run</h2>'
                 "<p>Each headline figure of the study (SafeAI 2022) beside this run's range over cells, per variant, "
                 "and the same measure between two baselines that differ only in their seed: a change is only "
                 "attributable to compression where it exceeds that floor. ✓/✗: within / beyond the study's figure.</p>"
                 + _table(study_header, study, html.escape(context)))
    parts.append('<h2 id="overall">Overall impact</h2>'
                 + _table(OVERALL_HEADER, overall, html.escape(
                     context + " Size: bytes on disk (pruned: sparse encoding); CPU img/s at the speed batch; "
                     "▲ = flip rate above the cell's noise floor; * = significant after Holm; saliency MAD over the saliency subset."), 3))
    parts.append('<h2 id="classes">Class-level changes</h2>')
    for cell in cells:
        parts.append(f"<h3>{cell.name}</h3>" + _img(figs.class_heatmap(cell), f"{cell.name} per-class change"))
        rows = []
        for c in cell.comparisons.values():
            ranked = sorted((r for r in c.details["per_class"] if r["delta_pp"] is not None),
                            key=lambda r: (-abs(r["delta_pp"]), r["class"]))[:3]
            for r in ranked:
                rows.append(([html.escape(c.variant), html.escape(r["name"]), str(r["n"]), f"{r['delta_pp']:+.1f}",
                              f"[{r['ci_low_pp']:+.1f}, {r['ci_high_pp']:+.1f}]", f"{r['p_holm']:.3g}",
                              "yes" if r["significant"] else "no"], "floor" if c.is_noise_floor else ""))
        parts.append(_table(["variant", "class", "n", "Δ recall pp", "95 % CI", "p (Holm)", "significant"], rows,
                            f"The three largest per-class changes of each comparison. {html.escape(context)}", 2))
    parts.append('<h2 id="confusion">Confusion changes</h2>')
    for cell in cells:
        names = next(iter(cell.comparisons.values())).details["class_names"]
        rows = []
        for c in cell.comparisons.values():
            fm = c.details["flip_matrix"]
            pairs = sorted(((fm[i][j], i, j) for i in range(len(fm)) for j in range(len(fm)) if fm[i][j]), reverse=True)[:3]
            rows.append(([html.escape(c.variant), str(c.details["flips"]),
                          "; ".join(f"{html.escape(names[i])} → {html.escape(names[j])} ({n})" for n, i, j in pairs) or "–"],
                         "floor" if c.is_noise_floor else ""))
        parts.append(f"<h3>{cell.name}</h3>" + _img(figs.confusion_changes(cell), f"{cell.name} confusion changes")
                     + _table(["variant", "flips", "most frequent flips (baseline → variant)"], rows, html.escape(context), 1))
    parts.append('<h2 id="confidence">Confidence</h2>')
    for cell in cells:
        rows = []
        for c in cell.comparisons.values():
            s = c.details["confidence_shift"]
            rows.append(([html.escape(c.variant), str(s["stable"]["n"]), _f(s["stable"]["mean"], "{:+.4f}"),
                          str(s["flipped"]["n"]), _f(s["flipped"]["mean"], "{:+.4f}"), _f(s["flipped"]["mean_abs"], "{:.4f}"),
                          _f(c.details["mean_kl"], "{:.4f}")], "floor" if c.is_noise_floor else ""))
        parts.append(f"<h3>{cell.name}</h3>" + _img(figs.confidence_shift(cell), f"{cell.name} confidence shift")
                     + _table(["variant", "stable n", "stable mean shift", "flipped n", "flipped mean shift",
                               "flipped mean |shift|", "mean KL(b‖c)"], rows, html.escape(context)))
    parts.append('<h2 id="calibration">Calibration</h2>')
    for cell in cells:
        base = cell.predict[params.baseline]
        rows = [([html.escape(c.variant), _f(c.details["ece_b"], "{:.4f}"), _f(c.details["ece"], "{:.4f}"),
                  _f(c.details["delta_ece"], "{:+.4f}"), _f(c.details["brier_b"], "{:.4f}"), _f(c.details["brier"], "{:.4f}"),
                  _f(cell.predict[c.variant]["temperature"], "{:.3f}"), _f(cell.predict[c.variant]["ece_scaled"], "{:.4f}"),
                  _f(cell.predict[c.variant]["ece_scaled"] - base["ece_scaled"], "{:+.4f}")],
                 "floor" if c.is_noise_floor else "") for c in cell.comparisons.values()]
        parts.append(f"<h3>{cell.name}</h3>" + _img(figs.reliability(cell), f"{cell.name} reliability")
                     + _table(["variant", "ECE baseline", "ECE variant", "ΔECE", "Brier baseline", "Brier variant",
                               "T variant", "ECE variant after T", "ΔECE after T"], rows,
                              html.escape(context + " ECE over 15 equal-width confidence bins. Temperature scaling: one "
                                          f"scalar T per model fitted on the validation split (baseline T = "
                                          f"{base['temperature']:.3f}, its test ECE {base['ece']:.4f} → "
                                          f"{base['ece_scaled']:.4f}); ΔECE after T compares both models scaled. "
                                          "A compression ΔECE that vanishes after T is repaired by refitting one number.")))
    parts.append(robustness_section(params, cells, context))
    parts.append(qat_section(params, cells, method, context))
    parts.append(population_section(params, cells))
    parts.append(f'<h2 id="saliency">Saliency</h2><p>Maps: {html.escape(method)}, absolute, max over channels, each '
                 "normalised to its maximum; quantized variants explained through their fake-quant twins.</p>")
    for cell in cells:
        rows = []
        for c in cell.comparisons.values():
            m = c.saliency["methods"].get(method, {}) if c.saliency else {}
            rows.append(([html.escape(c.variant), str(c.saliency["n"]) if c.saliency else "–",
                          _f((m.get("mad_pct") or {}).get("mean")), _f((m.get("mad_pct_stable") or {}).get("mean")),
                          _f((m.get("mad_pct_flipped") or {}).get("mean")), _f((m.get("spearman") or {}).get("mean"), "{:.3f}"),
                          _f((m.get("top10_overlap") or {}).get("mean"), "{:.3f}")], "floor" if c.is_noise_floor else ""))
        grids = "".join(
            f"<details><summary>{html.escape(c.variant)}: most changed and flipped samples</summary>"
            + _img(c.saliency_figure.read_bytes(), f"{cell.name} {c.variant} saliency grid") + "</details>"
            for c in cell.comparisons.values() if c.saliency_figure and c.saliency_figure.is_file())
        parts.append(f"<h3>{cell.name}</h3>" + _img(figs.saliency_mad(cell, method), f"{cell.name} saliency MAD")
                     + _table(["variant", "n", "MAD %", "MAD % stable", "MAD % flipped", "Spearman", "top-10 % overlap"], rows,
                              html.escape(context)) + grids)
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>compression-audit report</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")
    write_text(html_out, page)
    write_text(markdown_out, markdown(study_header, study, overall, context, cfg, not_run, verdict_rows(cells)))
    write_json(metrics_out, summary_metrics(cells, method))
    log(f"report -> {html_out} ({len(page) / 1e6:.1f} MB), {markdown_out}")


def _plain(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", cell)).replace("|", "/")


def markdown(study_header, study, overall, context: str, cfg: str, not_run: list[str], verdicts) -> str:
    def table(header, rows):
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_plain(c) or " " for c in cells) + " |" for cells, _ in rows]
        return "\n".join(lines)

    missing = f"Not run (no trained baseline): {', '.join(not_run)}.\n\n" if not_run else ""
    return (f"# What did compression change?\n\n{context}\n\n## Deployment verdict\n\n"
            f"{table(['cell', 'variant', 'verdict', 'failing criteria (value vs threshold)'], verdicts)}\n\n"
            f"{cfg}\n\n{missing}## Study vs this run\n\n"
            f"{table(study_header, study)}\n\n## Overall impact\n\n{table(OVERALL_HEADER, overall)}\n\n"
            "▲ = flip rate above the cell's noise floor; * = per-class change significant after Holm correction.\n"
            "The HTML report (index.html) has the class-level, confusion, confidence, calibration, corruption, QAT, seed-population and saliency sections.\n")
