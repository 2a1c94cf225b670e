"""Typed, frozen, strict views of params.yaml.

Every section becomes a frozen dataclass. Unknown keys, missing keys, wrong types
and out-of-range values fail at stage start with the key's dotted name and what
would be valid, so a typo never silently falls back to a default. The only keys that
may be left out are those that declare a default because just some entries use them
(an own dataset's `imagefolder`, an own model's `builder`).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from compression_audit.core.errors import UserError
from compression_audit.data.datasets import DATASETS
from compression_audit.models import BUILTIN_MODELS  # names only: validating params.yaml never imports torch

if TYPE_CHECKING:
    from compression_audit.models.networks import ModelRegistry

T = TypeVar("T")


class ConfigError(UserError):
    pass


def _fail(where: str, message: str) -> typing.NoReturn:
    raise ConfigError(f"params.yaml: {where or '<top level>'}: {message}")


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin is tuple:
        return f"a list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of name to {_type_name(get_args(tp)[1])}"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return parse_section(tp, value, where)
    if origin is Literal:
        if value not in get_args(tp):
            valid = ", ".join(repr(a) for a in get_args(tp))
            _fail(where, f"{value!r} is not valid; valid values: {valid}")
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError:
                pass
        _fail(where, f"expected {_type_name(tp)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, list):
            _fail(where, f"expected {_type_name(tp)}, got {value!r}")
        (item_tp, _ellipsis) = get_args(tp)
        return tuple(_convert(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            _fail(where, f"expected {_type_name(tp)}, got {value!r}")
        _key_tp, val_tp = get_args(tp)
        return {str(k): _convert(val_tp, v, _join(where, k)) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            _fail(where, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(where, f"expected a number, got {value!r} (write decimals with a dot, e.g. 0.0005)")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            _fail(where, f"expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {where}")


def parse_section(cls: type[T], data: Any, where: str) -> T:
    """Build the frozen dataclass ``cls`` from a mapping, rejecting unknown or missing keys."""
    if not isinstance(data, dict):
        _fail(where, f"expected a mapping with keys {', '.join(f.name for f in dataclasses.fields(cls))}, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            _fail(_join(where, key), f"unknown key; {hint}valid keys: {', '.join(names)}")
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            if field.default is not dataclasses.MISSING:  # only the few keys that only some entries need
                continue
            _fail(_join(where, field.name), f"missing; expected {_type_name(hints[field.name])}")
        kwargs[field.name] = _convert(hints[field.name], data[field.name], _join(where, field.name))
    try:
        return cls(**kwargs)
    except ValueError as exc:
        key, message = exc.args
        _fail(_join(where, key), message)


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(key, message)


@dataclass(frozen=True)
class DataConfig:
    source: Literal["download", "local"]
    local_dir: str
    val_fraction: float
    split_seed: int
    resize: bool

    def __post_init__(self) -> None:
        _check(0.0 < self.val_fraction < 0.5, "val_fraction", f"must be in (0, 0.5), got {self.val_fraction}")
        _check(self.split_seed >= 0, "split_seed", f"must be >= 0, got {self.split_seed}")


# Names that become file names and words of DVC stage command lines (datasets, models, variants).
NAME_PATTERN = r"[a-z][a-z0-9_]{0,31}"
NAME_RULE = ("names become file names and words of stage command lines: use 1-32 lowercase ASCII letters, "
             "digits and _, starting with a letter")
# own_models.<module>:<function>, each part a Python identifier. Only the project's own_models/ package can be
# named: it is the one place every model-building stage depends on (so DVC reruns on a change), and params.yaml
# cannot be used to import and call arbitrary installed code (os:_exit, a module with import side effects).
BUILDER_PATTERN = r"own_models(\.[A-Za-z_][A-Za-z0-9_]*)+:[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class DatasetConfig:
    archive_sha256: str | None
    imagefolder: str | None = None  # an own dataset: ImageFolder directory or .tar.gz of one
    names_file: str | None = None  # own dataset: "<folder>: <class name>" per line; default: the folder names
    group_pattern: str | None = None  # own dataset: regex on a training file's stem; its first group (or the
    #                                   whole match) names the near-duplicate group the split keeps together

    def __post_init__(self) -> None:
        if self.archive_sha256 is not None:
            ok = len(self.archive_sha256) == 64 and all(c in "0123456789abcdef" for c in self.archive_sha256)
            _check(ok, "archive_sha256", "must be 64 lowercase hex digits or null")
        if self.imagefolder is None:
            for key in ("names_file", "group_pattern"):
                _check(getattr(self, key) is None, key, "applies only to an own dataset (set imagefolder: PATH)")
        else:
            for key in ("imagefolder", "names_file"):
                value = getattr(self, key)
                if value is not None:
                    parts = Path(value).parts
                    ok = len(parts) >= 3 and parts[:2] == ("data", "own") and ".." not in parts
                    _check(ok, key, f"{value!r} must be a relative path under data/own/ (the fetch stage's DVC "
                                    "dependency): copy or `dvc add` the dataset there")
        if self.group_pattern is not None:
            try:
                re.compile(self.group_pattern)
            except re.error as exc:
                raise ValueError("group_pattern", f"is not a valid regular expression ({exc})") from None


@dataclass(frozen=True)
class AugmentConfig:
    hflip: bool
    crop_padding: int
    cutout: int = 0

    def __post_init__(self) -> None:
        _check(0 <= self.crop_padding <= 16, "crop_padding", f"must be in [0, 16] pixels, got {self.crop_padding}")
        _check(0 <= self.cutout <= 32, "cutout", f"must be in [0, 32] pixels (side of the zeroed square), got {self.cutout}")


@dataclass(frozen=True)
class TrainConfig:
    device: str
    precision: Literal["auto", "fp32", "bf16", "fp16"]
    eval_batch_size: int
    max_train_images: int
    threads: int

    def __post_init__(self) -> None:
        ok = self.device in ("auto", "cpu", "cuda") or (
            self.device.startswith("cuda:") and self.device[5:].isdigit()
        )
        _check(ok, "device", f"{self.device!r} is not valid; valid values: auto, cpu, cuda, cuda:N")
        _check(self.eval_batch_size >= 1, "eval_batch_size", f"must be >= 1, got {self.eval_batch_size}")
        _check(self.max_train_images >= 0, "max_train_images", f"must be >= 0 (0 = all), got {self.max_train_images}")
        _check(self.threads >= 0, "threads", f"must be >= 0 (0 = torch's default), got {self.threads}")


@dataclass(frozen=True)
class ModelHParams:
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    label_smoothing: float
    warmup_fraction: float
    ema_decay: float = 0.0  # per-step decay of the weight average that is validated and kept; 0 = none
    builder: str | None = None  # an own model: "package.module:function" taking the number of classes

    def __post_init__(self) -> None:
        if self.builder is not None:
            _check(re.fullmatch(BUILDER_PATTERN, self.builder) is not None, "builder",
                   f"{self.builder!r} is not an import path own_models.<module>:<function> (identifiers only; "
                   "put the builder's module in the project's own_models/ folder)")
        _check(1 <= self.epochs <= 1000, "epochs", f"must be in [1, 1000], got {self.epochs}")
        _check(1 <= self.batch_size <= 65536, "batch_size", f"must be in [1, 65536], got {self.batch_size}")
        _check(0.0 < self.lr <= 10.0, "lr", f"must be in (0, 10], got {self.lr}")
        _check(0.0 <= self.momentum < 1.0, "momentum", f"must be in [0, 1), got {self.momentum}")
        _check(not self.nesterov or self.momentum > 0, "nesterov", "needs momentum > 0")
        _check(0.0 <= self.weight_decay < 1.0, "weight_decay", f"must be in [0, 1), got {self.weight_decay}")
        _check(0.0 <= self.label_smoothing < 1.0, "label_smoothing", f"must be in [0, 1), got {self.label_smoothing}")
        _check(0.0 < self.warmup_fraction < 1.0, "warmup_fraction", f"must be in (0, 1), got {self.warmup_fraction}")
        _check(0.0 <= self.ema_decay < 1.0, "ema_decay", f"must be in [0, 1) (0 = no weight average), got {self.ema_decay}")


@dataclass(frozen=True)
class PruneConfig:
    scope: Literal["global", "local"]
    structure: Literal["unstructured", "channel"]
    score: Literal["l1", "l2", "random"]
    amount: float | Literal["auto"]
    tolerance_pp: float
    grid_step: float
    finetune_epochs: int
    finetune_lr: float
    seed: int

    def __post_init__(self) -> None:
        if self.amount != "auto":
            _check(0.0 <= self.amount < 1.0, "amount", f"must be a fraction in [0, 1) or 'auto', got {self.amount}")
        _check(
            not (self.structure == "channel" and self.scope == "global"), "scope",
            "channel-structured pruning ranks channels within each layer: use scope: local with structure: channel",
        )
        _check(self.tolerance_pp >= 0.0, "tolerance_pp",
               f"no grid point can satisfy a negative tolerance ({self.tolerance_pp} pp); use a value >= 0")
        _check(0.0 < self.grid_step <= 0.5, "grid_step", f"must be in (0, 0.5], got {self.grid_step}")
        _check(0 <= self.finetune_epochs <= 1000, "finetune_epochs", f"must be in [0, 1000], got {self.finetune_epochs}")
        _check(0.0 < self.finetune_lr <= 10.0, "finetune_lr", f"must be in (0, 10], got {self.finetune_lr}")
        _check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")


def activation_qmax(activation_bits: int, reduce_range: bool) -> int:
    """The largest quantized activation: ``quantize.reduce_range`` drops the top bit (0..127 for 8 bits)."""
    return 2 ** (activation_bits - reduce_range) - 1


@dataclass(frozen=True)
class QuantVariant:
    weight_bits: int
    activation_bits: int
    # quantization-aware training: epochs of fake-quant fine-tuning after calibration; 0 = post-training only
    qat_epochs: int = 0
    qat_lr: float = 0.001
    qat_images: int = 0  # training images per QAT epoch (seeded subset); 0 = the whole training split

    def __post_init__(self) -> None:
        _check(self.weight_bits in (4, 8), "weight_bits", f"{self.weight_bits} is not supported; valid: 4, 8")
        _check(self.activation_bits == 8, "activation_bits", f"{self.activation_bits} is not supported; valid: 8")
        _check(self.qat_epochs >= 0, "qat_epochs", f"must be >= 0 (0 = post-training quantization), got {self.qat_epochs}")
        _check(self.qat_lr > 0, "qat_lr", f"must be > 0, got {self.qat_lr}")
        _check(self.qat_images >= 0, "qat_images", f"must be >= 0 (0 = the whole training split), got {self.qat_images}")


@dataclass(frozen=True)
class QuantizeConfig:
    backend: Literal["x86", "fbgemm", "onednn"]
    reduce_range: bool
    calibration_images: int
    calibration_batch_size: int
    variants: dict[str, QuantVariant]
    after_pruning: str
    calibration_seed: int

    def __post_init__(self) -> None:
        _check(self.calibration_images >= 1, "calibration_images", f"must be >= 1, got {self.calibration_images}")
        _check(self.calibration_batch_size >= 1, "calibration_batch_size", f"must be >= 1, got {self.calibration_batch_size}")
        _check(len(self.variants) >= 1, "variants", "name at least one variant")
        for name in self.variants:
            _check(re.fullmatch(NAME_PATTERN, name) is not None, f"variants.{name}", f"variant {NAME_RULE}")
            # "seed" as a whole prefix: every stage tells the noise floor (seedN) from a variant by it
            reserved = name == "pruned" or name.startswith("pruned_") or name.startswith("seed")
            _check(not reserved, f"variants.{name}", "names starting with pruned_ or seed are taken by other models (pruned*, seedN); choose another")
        _check(self.after_pruning in self.variants, "after_pruning",
               f"{self.after_pruning!r} is not a variant; valid: {', '.join(self.variants)}")
        # training without the pruning mask would regrow the pruned weights
        _check(self.after_pruning not in self.variants or self.variants[self.after_pruning].qat_epochs == 0,
               "after_pruning", f"{self.after_pruning!r} is a QAT variant (qat_epochs > 0), which would undo the pruning; "
               "name a post-training variant (qat_epochs: 0)")
        _check(self.calibration_seed >= 0, "calibration_seed", f"must be >= 0, got {self.calibration_seed}")


@dataclass(frozen=True)
class SpeedConfig:
    batch_size: int
    seconds: float

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        _check(0.0 < self.seconds <= 600, "seconds", f"must be in (0, 600], got {self.seconds}")


@dataclass(frozen=True)
class EvaluateConfig:
    variants: tuple[str, ...]
    precision: Literal["fp32", "auto"]
    bootstrap_resamples: int
    bootstrap_seed: int
    alpha: float

    def __post_init__(self) -> None:
        _check(len(self.variants) >= 1, "variants", "name at least one model to compare with the baseline")
        _check(len(set(self.variants)) == len(self.variants), "variants", f"names must be distinct, got {list(self.variants)}")
        _check(100 <= self.bootstrap_resamples <= 100_000, "bootstrap_resamples",
               f"must be in [100, 100000], got {self.bootstrap_resamples}")
        _check(self.bootstrap_seed >= 0, "bootstrap_seed", f"must be >= 0, got {self.bootstrap_seed}")
        _check(0.0 < self.alpha < 0.5, "alpha", f"must be in (0, 0.5), got {self.alpha}")


@dataclass(frozen=True)
class SaliencyConfig:
    methods: tuple[Literal["saliency", "integrated_gradients", "guided_backprop"], ...]
    images: int
    seed: int
    target: Literal["baseline_prediction", "label", "own_prediction"]
    batch_size: int
    precision: Literal["fp32", "auto"]
    ig_steps: int
    figure_samples: int

    def __post_init__(self) -> None:
        _check(len(self.methods) >= 1, "methods", "name at least one method: saliency, integrated_gradients, guided_backprop")
        _check(len(set(self.methods)) == len(self.methods), "methods", f"methods must be distinct, got {list(self.methods)}")
        _check(self.images >= 0, "images", f"must be >= 0 (0 = the whole test split), got {self.images}")
        _check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        _check(1 <= self.batch_size <= 65536, "batch_size", f"must be in [1, 65536], got {self.batch_size}")
        _check(2 <= self.ig_steps <= 1000, "ig_steps", f"must be in [2, 1000], got {self.ig_steps}")
        _check(0 <= self.figure_samples <= 50, "figure_samples", f"must be in [0, 50], got {self.figure_samples}")


@dataclass(frozen=True)
class PopulationConfig:
    seeds: tuple[int, ...]
    variants: tuple[str, ...]
    gallery: int

    def __post_init__(self) -> None:
        _check(len(set(self.seeds)) == len(self.seeds), "seeds", f"seeds must be distinct, got {list(self.seeds)}")
        _check(len(set(self.variants)) == len(self.variants), "variants",
               f"names must be distinct, got {list(self.variants)}")
        _check(0 <= self.gallery <= 50, "gallery", f"must be in [0, 50] images per variant, got {self.gallery}")


# Valid strengths per corruption (corruptions.py implements them; a test keeps the names in step).
CORRUPTION_RANGES: dict[str, tuple[float, float]] = {
    "gaussian_noise": (0.0, 1.0), "shot_noise": (1.0, float("inf")), "gaussian_blur": (0.0, 8.0),
    "contrast": (0.0, 1.0), "brightness": (-1.0, 1.0), "jpeg_compression": (1, 95), "pixelate": (0.05, 1.0),
}


def check_strengths(name: str, strengths: tuple[float, ...] | list[float]) -> str | None:
    """None if ``strengths`` are valid for corruption ``name``, else what is wrong."""
    if name not in CORRUPTION_RANGES:
        return f"unknown corruption; valid: {', '.join(CORRUPTION_RANGES)}"
    if len(strengths) < 1:
        return "list at least one severity's strength"
    lo, hi = CORRUPTION_RANGES[name]
    bad = [s for s in strengths if not (lo <= s <= hi)]
    return f"strengths must be in [{lo}, {hi}], got {bad}" if bad else None


@dataclass(frozen=True)
class CorruptionsConfig:
    seed: int
    images: int
    kinds: dict[str, tuple[float, ...]]

    def __post_init__(self) -> None:
        _check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        _check(self.images >= 0, "images", f"must be >= 0 (0 = the whole test split), got {self.images}")
        _check(len(self.kinds) >= 1, "kinds", "name at least one corruption")
        for name, strengths in self.kinds.items():
            problem = check_strengths(name, strengths)
            _check(problem is None, f"kinds.{name}", problem or "")
        counts = {name: len(v) for name, v in self.kinds.items()}
        _check(len(set(counts.values())) == 1, "kinds",  # one severity axis for every corruption's table and plot
               f"every corruption needs the same number of severities, got {counts}")


@dataclass(frozen=True)
class GateConfig:
    max_accuracy_drop_pp: float
    max_flip_pct: float
    max_flip_x_noise: float
    max_class_drop_pp: float
    max_delta_ece: float
    max_negative_flip_pct: float
    max_mad_above_noise_pct: float

    def __post_init__(self) -> None:
        for key in ("max_accuracy_drop_pp", "max_flip_pct", "max_class_drop_pp", "max_negative_flip_pct"):
            value = getattr(self, key)
            _check(0.0 <= value <= 100.0, key, f"must be in [0, 100] (percentage points or percent), got {value}")
        _check(self.max_flip_x_noise >= 0.0, "max_flip_x_noise", f"must be >= 0 (a multiple), got {self.max_flip_x_noise}")
        _check(-1.0 <= self.max_delta_ece <= 1.0, "max_delta_ece", f"must be in [-1, 1] (ECE units), got {self.max_delta_ece}")
        _check(-100.0 <= self.max_mad_above_noise_pct <= 100.0, "max_mad_above_noise_pct",
               f"must be in [-100, 100] (percentage points), got {self.max_mad_above_noise_pct}")

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def is_noise_floor(variant: str) -> bool:
    """Another seed's baseline (seedN in evaluate.variants), not a compressed variant."""
    return re.fullmatch(r"seed\d+", variant) is not None


def _check_declared(section: str, kind: str, declared: dict[str, str | None], builtin, key: str, how: str) -> None:
    """Each entry is either a built-in name with no ``key``, or a new name that declares its own ``key``."""
    for name, own in declared.items():
        _check(re.fullmatch(NAME_PATTERN, name) is not None, f"{section}.{name}", f"{kind} {NAME_RULE}")
        if name in builtin:
            _check(own is None, f"{section}.{name}.{key}", f"{name} is a built-in {kind}; give your own {kind} another name")
        else:
            _check(own is not None, f"{section}.{name}",
                   f"unknown {kind}; built-in: {', '.join(builtin)}, or declare your own with {how}")


@dataclass(frozen=True)
class Params:
    data: DataConfig
    datasets: dict[str, DatasetConfig]
    augment: dict[str, AugmentConfig]
    seeds: tuple[int, ...]
    train: TrainConfig
    models: dict[str, ModelHParams]
    prune: PruneConfig
    quantize: QuantizeConfig
    speed: SpeedConfig
    evaluate: EvaluateConfig
    saliency: SaliencyConfig
    corruptions: CorruptionsConfig
    population: PopulationConfig
    gate: GateConfig

    def __post_init__(self) -> None:
        _check_declared("datasets", "dataset", {n: ds.imagefolder for n, ds in self.datasets.items()}, DATASETS,
                        "imagefolder", "imagefolder: PATH")
        _check_declared("models", "model", {n: hp.builder for n, hp in self.models.items()}, BUILTIN_MODELS,
                        "builder", "builder: own_models.<module>:<function>")
        _check(len(self.datasets) >= 1, "datasets", "name at least one dataset")
        _check(len(self.models) >= 1, "models", "name at least one model")
        for name in self.augment:
            _check(name in self.datasets, f"augment.{name}", f"not a dataset in datasets; valid: {', '.join(self.datasets)}")
        missing = sorted(set(self.datasets) - set(self.augment))
        _check(not missing, "augment", f"no augmentation settings for dataset(s) {', '.join(missing)}")
        _check(len(self.seeds) >= 1, "seeds", "list at least one seed (the first is the baseline)")
        _check(len(set(self.seeds)) == len(self.seeds), "seeds", f"seeds must be distinct, got {list(self.seeds)}")
        _check(all(s >= 0 for s in self.seeds), "seeds", f"seeds must be >= 0, got {list(self.seeds)}")
        valid = self.comparable_variants()
        for i, name in enumerate(self.evaluate.variants):
            _check(name in valid, f"evaluate.variants[{i}]",
                   f"{name!r} is not a model this pipeline makes; valid: {', '.join(valid)}")
        for i, seed in enumerate(self.population.seeds):
            # a member's compressed models are compared with its own baseline, whose predictions the noise-floor
            # comparison (seedN in evaluate.variants) already makes
            _check(seed in self.seeds[1:], f"population.seeds[{i}]",
                   f"{seed} is not one of the seeds after the first ({list(self.seeds[1:])}); the first seed's baseline "
                   "is always compressed, so list only the others")
            _check(f"seed{seed}" in self.evaluate.variants, f"population.seeds[{i}]",
                   f"seed{seed} is not in evaluate.variants; add it there so its baseline is predicted and compared")
        compressed = self.compressed_variants()
        for i, name in enumerate(self.population.variants):
            _check(name in compressed, f"population.variants[{i}]",
                   f"{name!r} is not a compressed variant in evaluate.variants; valid: {', '.join(compressed)}")

    def comparable_variants(self) -> tuple[str, ...]:
        """File stems in models/<dataset>-<model>/ that can be compared with the baseline (seeds[0])."""
        return (*(f"seed{s}" for s in self.seeds[1:]), "pruned", *self.quantize.variants,
                f"pruned_{self.quantize.after_pruning}")

    def compressed_variants(self) -> tuple[str, ...]:
        """The compressed variants in evaluate.variants (every other entry is another seed's baseline)."""
        return tuple(v for v in self.evaluate.variants if not is_noise_floor(v))

    @property
    def population_seeds(self) -> tuple[int, ...]:
        """Every seed whose baseline is compressed: the first, then population.seeds."""
        return (self.seeds[0], *self.population.seeds)

    @property
    def baseline(self) -> str:
        return f"seed{self.seeds[0]}"

    def check_cell_variant(self, dataset: str, model: str, variant: str) -> None:
        """Refuse a dataset, model or compared variant that params.yaml does not name, listing the valid ones."""
        self.dataset(dataset)
        self.model(model)
        valid = self.evaluate.variants
        if variant not in valid:
            raise ConfigError(f"variant {variant!r} is not evaluated; valid: {', '.join(valid)} (params.yaml: evaluate.variants)")

    @property
    def registry(self) -> ModelRegistry:
        """The networks this project can build: the built-ins and the own models declared in ``models``."""
        from compression_audit.models.networks import ModelRegistry  # torch only when a model is built

        return ModelRegistry({name: hp.builder for name, hp in self.models.items() if hp.builder is not None})

    def dataset(self, name: str) -> DatasetConfig:
        if name not in self.datasets:
            raise ConfigError(f"dataset {name!r} is not in params.yaml's datasets; valid: {', '.join(self.datasets)}")
        return self.datasets[name]

    def model(self, name: str) -> ModelHParams:
        if name not in self.models:
            raise ConfigError(f"model {name!r} is not in params.yaml's models; valid: {', '.join(self.models)}")
        return self.models[name]


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file {path} not found; run from the project root or pass --params PATH")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {path} is not valid YAML: {exc}") from exc
    return parse_section(Params, raw, "")
