import copy

import pytest
import yaml
from conftest import REPO

from compression_audit.core.config import ConfigError, load_params


@pytest.fixture
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def _write(tmp_path, raw):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_repo_params_load():
    params = load_params(REPO / "params.yaml")
    assert params.seeds[0] == 0 and len(params.seeds) >= 2
    assert set(params.models) == {"lenet5", "squeezenet", "resnet18"}
    assert params.models["resnet18"].epochs <= 15


def _mutated(raw, path, value):
    raw = copy.deepcopy(raw)
    node = raw
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    "path,value,message",
    [
        (("models", "lenet5", "epohcs"), 3, r"models\.lenet5\.epohcs: unknown key; did you mean 'epochs'"),
        (("trian",), {}, r"trian: unknown key; did you mean 'train'"),
        (("models", "lenet5", "epochs"), KeyError, r"models\.lenet5\.epochs: missing"),
        (("models", "lenet5", "epochs"), 0, r"models\.lenet5\.epochs: must be in \[1, 1000\]"),
        (("models", "lenet5", "epochs"), 2.5, r"models\.lenet5\.epochs: expected an integer"),
        (("models", "resnet18", "batch_size"), -4, r"models\.resnet18\.batch_size: must be in"),
        (("models", "lenet5", "lr"), "fast", r"models\.lenet5\.lr: expected a number"),
        (("data", "val_fraction"), 0.7, r"data\.val_fraction: must be in \(0, 0\.5\)"),
        (("data", "source"), "ftp", r"data\.source: 'ftp' is not valid; valid values: 'download', 'local'"),
        (("train", "precision"), "int4", r"train\.precision: 'int4' is not valid"),
        (("train", "device"), "tpu", r"train\.device: 'tpu' is not valid; valid values: auto, cpu, cuda"),
        (("seeds",), [0, 0], r"seeds: seeds must be distinct"),
        (("seeds",), [0, -1], r"seeds: seeds must be >= 0"),
        (("data", "resize"), "yes", r"data\.resize: expected true or false"),
        (("datasets", "mnist"), {"archive_sha256": None}, r"datasets\.mnist: unknown dataset; built-in: cifar10, gtsrb, or declare your own with imagefolder"),
        (("datasets", "cifar10", "archive_sha256"), "abc", r"archive_sha256: must be 64 lowercase hex"),
        (("prune", "amount"), 1.0, r"prune\.amount: must be a fraction in \[0, 1\) or 'auto'"),
        (("prune", "amount"), "most", r"prune\.amount: expected float or 'auto', got 'most'"),
        (("prune", "scope"), "layer", r"prune\.scope: 'layer' is not valid; valid values: 'global', 'local'"),
        (("prune", "structure"), "filter", r"prune\.structure: 'filter' is not valid; valid values: 'unstructured', 'channel'"),
        (("prune", "score"), "l0", r"prune\.score: 'l0' is not valid; valid values: 'l1', 'l2', 'random'"),
        (("prune", "structure"), "channel", r"prune\.scope: channel-structured pruning .* use scope: local"),
        (("prune", "tolerance_pp"), -0.5, r"prune\.tolerance_pp: no grid point can satisfy a negative tolerance"),
        (("quantize", "variants", "w8a8", "weight_bits"), 2, r"weight_bits: 2 is not supported; valid: 4, 8"),
        (("quantize", "variants", "w4a8", "activation_bits"), 4, r"activation_bits: 4 is not supported; valid: 8"),
        (("quantize", "after_pruning"), "w2a8", r"quantize\.after_pruning: 'w2a8' is not a variant; valid: "),
        (("quantize", "after_pruning"), "w4a8_qat", r"quantize\.after_pruning: 'w4a8_qat' is a QAT variant .* would undo the pruning"),
        (("quantize", "variants", "w4a8_qat", "qat_epochs"), -1, r"qat_epochs: must be >= 0"),
        (("quantize", "variants", "w4a8_qat", "qat_lr"), 0, r"qat_lr: must be > 0"),
        (("quantize", "variants", "w4a8_qat", "qat_images"), -5, r"qat_images: must be >= 0"),
        (("quantize", "variants", "w4a8_qat", "qat_epoch"), 1, r"qat_epoch: unknown key; did you mean 'qat_epochs'"),
        (("population", "seeds"), [0], r"population\.seeds\[0\]: 0 is not one of the seeds after the first \(\[1\]\)"),
        (("population", "seeds"), [7], r"population\.seeds\[0\]: 7 is not one of the seeds after the first"),
        (("population", "seeds"), [1, 1], r"population\.seeds: seeds must be distinct"),
        (("population", "variants"), ["seed1"], r"population\.variants\[0\]: 'seed1' is not a compressed variant in evaluate\.variants"),
        (("population", "variants"), ["w2a8"], r"population\.variants\[0\]: 'w2a8' is not a compressed variant"),
        (("population", "gallery"), 51, r"population\.gallery: must be in \[0, 50\]"),
        (("population",), KeyError, r"population: missing"),
        (("corruptions", "kinds", "fog"), [0.1] * 5, r"corruptions\.kinds\.fog: unknown corruption; valid: gaussian_noise"),
        (("corruptions", "kinds", "contrast"), [0.5, 1.5, 0.4, 0.3, 0.2], r"kinds\.contrast: strengths must be in \[0\.0, 1\.0\], got \[1\.5\]"),
        (("corruptions", "kinds", "pixelate"), [0.9, 0.8], r"corruptions\.kinds: every corruption needs the same number of severities"),
        (("corruptions", "images"), -1, r"corruptions\.images: must be >= 0"),
    ],
)
def test_bad_params_name_the_key(tmp_path, raw, path, value, message):
    with pytest.raises(ConfigError, match=message):
        load_params(_write(tmp_path, _mutated(raw, path, value)))


def test_population_seed_must_be_evaluated_as_noise_floor(tmp_path, raw):
    raw["seeds"] = [0, 1, 2]
    raw["population"]["seeds"] = [1, 2]  # seed2 is trained but never predicted: no baseline for its population member
    with pytest.raises(ConfigError, match=r"population\.seeds\[1\]: seed2 is not in evaluate\.variants; add it there"):
        load_params(_write(tmp_path, raw))
    raw["evaluate"]["variants"].insert(1, "seed2")
    params = load_params(_write(tmp_path, raw))
    assert params.population_seeds == (0, 1, 2)
    assert "seed2" not in params.compressed_variants() and "pruned_w8a8" in params.compressed_variants()


def test_unknown_model_in_models(tmp_path, raw):
    raw["models"]["vgg"] = raw["models"]["lenet5"]
    with pytest.raises(ConfigError, match="models.vgg: unknown model; built-in: lenet5, squeezenet, resnet18, or declare your own with builder"):
        load_params(_write(tmp_path, raw))


def test_params_are_frozen():
    params = load_params(REPO / "params.yaml")
    with pytest.raises(AttributeError):
        params.train.device = "cuda"  # type: ignore[misc]
