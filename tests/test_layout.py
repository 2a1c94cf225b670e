"""core.layout gives exactly the paths dvc.yaml declares: every path it builds for the default grid is an
output of some stage in the expanded dvc.yaml, so the code that reads outputs by name cannot drift from it."""

from pathlib import Path

import pytest
from conftest import REPO
from dvc.repo import Repo

from compression_audit.core.config import is_noise_floor, load_params
from compression_audit.core.layout import BASELINE, Layout, cell_name, verdict_files


@pytest.fixture(scope="module")
def declared():
    """Every output path of the repository's dvc.yaml, expanded for its params.yaml."""
    with Repo(str(REPO)) as repo:
        return {Path(out.def_path) for stage in repo.index.stages for out in stage.outs}


def test_every_layout_path_is_a_declared_output(declared):
    params = load_params(REPO / "params.yaml")
    layout = Layout(params.seeds[0], Path("reports"), Path("models"))
    compressed = [v for v in params.evaluate.variants if not is_noise_floor(v)]
    paths = []
    for dataset in params.datasets:
        for model in params.models:
            cell = cell_name(dataset, model)
            paths += [layout.prune_record(cell), layout.verdict_details(cell), layout.population_details(cell),
                      layout.population_gallery(cell)]
            paths += [layout.quantize_record(cell, q)
                      for q in (*params.quantize.variants, f"pruned_{params.quantize.after_pruning}")]
            for seed in params.seeds:
                paths += [layout.baseline_model(cell, seed), layout.train_record(cell, seed)]
            for variant in (params.baseline, *params.evaluate.variants):
                paths.append(layout.predict_record(cell, variant))
            for variant in params.evaluate.variants:
                paths += [layout.evaluate_record(cell, variant), layout.evaluate_details(cell, variant),
                          layout.saliency_record(cell, variant), layout.saliency_details(cell, variant),
                          layout.saliency_samples(cell, variant), layout.saliency_figure(cell, variant)]
            for seed in params.population_seeds:
                paths += [layout.predictions(cell, BASELINE, seed), layout.corrupted_predictions(cell, BASELINE, seed)]
                for variant in params.population.variants:
                    paths += [layout.predictions(cell, variant, seed), layout.corrupted_predictions(cell, variant, seed),
                              layout.saliency_record(cell, variant, seed)]
            for variant in compressed:
                paths.append(layout.predictions(cell, variant))
    assert len(paths) > 300
    missing = sorted(str(p) for p in paths if p not in declared)
    assert not missing, f"core.layout builds paths that dvc.yaml does not declare: {missing[:10]}"


def test_known_answers_for_the_first_seed_and_a_member():
    layout = Layout(0, Path("reports"), Path("models"))
    assert layout.predictions("gtsrb-lenet5", BASELINE) == Path("reports/predictions/gtsrb-lenet5/seed0.parquet")
    assert layout.predictions("gtsrb-lenet5", BASELINE, 1) == Path("reports/predictions/gtsrb-lenet5/seed1.parquet")
    assert layout.predictions("gtsrb-lenet5", "w8a8", 0) == Path("reports/predictions/gtsrb-lenet5/w8a8.parquet")
    assert layout.predictions("gtsrb-lenet5", "w8a8", 1) == \
        Path("reports/predictions/gtsrb-lenet5/_population/seed1/w8a8.parquet")
    assert layout.saliency_record("c-m", "pruned", 2) == Path("reports/saliency/c-m/_population/seed2/pruned.json")


def test_verdict_files_are_found_by_cell(tmp_path):
    for cell in ("gtsrb-lenet5", "cifar10-resnet18"):
        path = Layout(0, tmp_path).verdict_details(cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    (tmp_path / "verdict" / "gtsrb-lenet5.json").write_text("{}")  # the compact metrics file is not a table
    assert [p.name for p in verdict_files(tmp_path)] == ["cifar10-resnet18-details.json", "gtsrb-lenet5-details.json"]
    assert verdict_files(tmp_path / "nothing") == []
