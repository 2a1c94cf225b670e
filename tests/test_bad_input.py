"""The bad-input matrix: every row runs a real stage script the way `dvc repro` does and must end in exit
status 2, one `error: ...` line that names the problem and the fix, no traceback, and none of the stage's
outputs left in place -- including a stale one from an earlier successful run, which the test plants first.

`python tests/test_bad_input.py` prints each case with the first line of its error message.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from conftest import REPO, make_archive, make_tree  # noqa: E402


@dataclass
class Case:
    id: str
    expected: str  # a substring of the error message
    setup: Callable[[Path], tuple[str, list, list[Path]]]  # tmp -> (stage script, arguments, output paths)
    not_created: list[str] = field(default_factory=list)  # files whose existence would prove code ran
    never_said: list[str] = field(default_factory=list)  # advice the message must not give
    file_size_limit: int | None = None  # bytes a file may grow to (ulimit -f): a disk that fills up mid-write


def run_stage(script: str, args: list, file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COMPRESSION_AUDIT_DATA_DIR"}

    def limit_writes():  # past the limit a write fails with EFBIG, as on a full disk (SIGXFSZ ignored, not fatal)
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run([sys.executable, str(REPO / "stages" / script), *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=REPO,
                          preexec_fn=limit_writes if file_size_limit else None)


# ---- params -----------------------------------------------------------------------------------------------

def params_file(tmp: Path, edit: Callable[[dict], None] | None = None, **data) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"].update({"source": "local", "local_dir": str(tmp / "src"), "val_fraction": 0.25, **data})
    for ds in raw["datasets"].values():
        ds["archive_sha256"] = None
    if edit:
        edit(raw)
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def validate(edit: Callable[[dict], None]):
    def setup(tmp):
        out = tmp / "reports" / "params-valid.txt"
        return "validate.py", ["--params", params_file(tmp, edit), "--out", out], [out]
    return setup


def setter(*path_and_value):
    *path, value = path_and_value

    def edit(raw):
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def typo(raw):
    raw["prune"]["amuont"] = raw["prune"].pop("amount")


def hostile_variant(raw):
    raw["quantize"]["variants"]["w8a8;touch${IFS}pwned"] = raw["quantize"]["variants"].pop("w8a8")
    raw["quantize"]["after_pruning"] = "w4a8"
    raw["evaluate"]["variants"] = ["seed1", "pruned", "w4a8"]


def unknown_model(raw):
    raw["models"]["vgg16"] = raw["models"]["lenet5"]


def unknown_dataset(raw):
    raw["datasets"]["mnist"] = {"archive_sha256": None}
    raw["augment"]["mnist"] = raw["augment"]["cifar10"]


# ---- data -------------------------------------------------------------------------------------------------

def fetch(prepare: Callable[[Path], None], dataset="cifar10", **data):
    def setup(tmp):
        prepare(tmp / "src")
        out, report = tmp / "data" / "prepared" / dataset, tmp / "reports" / "fetch" / f"{dataset}.json"
        args = ["--dataset", dataset, "--out", out, "--report", report, "--raw-dir", tmp / "raw",
                "--params", params_file(tmp, **data)]
        return "fetch.py", args, [out, report]
    return setup


def tree(**kw):
    return lambda src: make_tree(src / "cifar10", "cifar10", n_train=2, n_test=1, **kw)


def archive(mangle: Callable[[bytes], bytes]):
    def prepare(src):
        make_tree(src / "tree", "cifar10", n_train=2, n_test=1)
        path = make_archive(src / "tree", src / "cifar10.tar.gz")
        path.write_bytes(mangle(path.read_bytes()))
        import shutil
        shutil.rmtree(src / "tree")
    return prepare


def with_checksum(src_setup):
    def setup(tmp):
        script, args, outs = src_setup(tmp)
        params = Path(args[args.index("--params") + 1])
        raw = yaml.safe_load(params.read_text())
        raw["datasets"]["cifar10"]["archive_sha256"] = "0" * 64
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        return script, args, outs
    return setup


def renamed_class(src):
    tree()(src)
    (src / "cifar10" / "train" / "cat").rename(src / "cifar10" / "train" / "kitten")


def emptied_class(src):
    tree()(src)
    for f in (src / "cifar10" / "test" / "dog").iterdir():
        f.unlink()


def undecodable(src):
    tree()(src)
    sorted((src / "cifar10" / "train" / "frog").iterdir())[0].write_bytes(b"GIF89a but not really")


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels: PIL refuses it as a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def with_file(relative: str | bytes, data: bytes):
    """The tiny tree plus one more file (``relative`` under the dataset folder; bytes for a non-UTF-8 name)."""
    def prepare(src):
        tree()(src)
        if isinstance(relative, bytes):
            path = os.path.join(os.fsencode(src / "cifar10"), relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        else:
            (src / "cifar10" / relative).write_bytes(data)
    return prepare


def a_valid_image(src_unused=None) -> bytes:
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def raw_archive(members: list[tuple[str | bytes, bytes | str, str]], base: Callable[[Path], None] | None = None):
    """cifar10.tar.gz with the tiny tree (unless ``base`` is None and no tree is wanted) and then ``members``:
    (name, data, kind) with kind "file" or "symlink" (data = the link target)."""
    def prepare(src):
        import io
        import shutil
        import tarfile

        src.mkdir(parents=True, exist_ok=True)
        with tarfile.open(src / "cifar10.tar.gz", "w:gz") as tar:
            for name, data, kind in members:  # first: extraction meets them before the tree
                info = tarfile.TarInfo(os.fsdecode(name) if isinstance(name, bytes) else name)
                if kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, data
                    tar.addfile(info)
                else:
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            if base is not None:
                base(src / "tree")
                for child in sorted((src / "tree" / "cifar10").iterdir()):
                    tar.add(child, arcname=child.name)
        shutil.rmtree(src / "tree", ignore_errors=True)
    return prepare


# ---- models and upstream outputs ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A real prepared CIFAR-10-shaped dataset (tiny), made by the fetch stage."""
    tmp = tmp_path_factory.mktemp("prepared")
    script, args, outs = fetch(tree())(tmp)
    result = run_stage(script, args)
    assert result.returncode == 0, result.stderr
    return outs[0]


PREPARED: list[Path] = []  # filled from the fixture for the cases that need data


def checkpoint(tmp: Path, arch="lenet5", classes=10) -> Path:
    from compression_audit.models.checkpoint import save_checkpoint
    from compression_audit.models.networks import Classifier
    path = tmp / "models" / f"{arch}-{classes}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, Classifier(arch, classes, (0.5,) * 3, (0.25,) * 3), tuple(map(str, range(classes))), {})
    return path


class Payload:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def pickled_code(tmp: Path) -> Path:
    path = tmp / "models" / "evil.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({"format": "compression-audit/checkpoint-v1", "state": Payload(tmp / "PWNED")}, f)
    return path


def train(tmp: Path, edit=None, data: Path | None = None, model="lenet5"):
    out = tmp / "models" / "seed0.pt"
    metrics, curve = tmp / "reports" / "train.json", tmp / "reports" / "train.csv"
    args = ["--dataset", "cifar10", "--model", model, "--seed", 0, "--data", data or PREPARED[0], "--out", out,
            "--metrics", metrics, "--curve", curve, "--params", params_file(tmp, edit)]
    return "train.py", args, [out, metrics, curve]


def train_into_directory(tmp: Path):
    """--metrics names an existing folder holding other cells' files: it fails, and the folder survives."""
    script, args, outputs = train(tmp, lambda raw: raw["models"]["lenet5"].update(epochs=1, batch_size=16))
    folder = tmp / "reports" / "train-folder"
    (folder / "other-cell.json").parent.mkdir(parents=True)
    (folder / "other-cell.json").write_text("{}")
    args[args.index("--metrics") + 1] = folder
    return script, args, [outputs[0], outputs[2]]


def prune(tmp: Path, baseline: Path, model="lenet5"):
    out = tmp / "models" / "pruned.pt"
    outs = [out, tmp / "r" / "prune.json", tmp / "r" / "layers.json", tmp / "r" / "search.csv"]
    args = ["--dataset", "cifar10", "--model", model, "--baseline", baseline, "--data", PREPARED[0],
            "--out", out, "--metrics", outs[1], "--layers", outs[2], "--search", outs[3], "--params", params_file(tmp)]
    return "prune.py", args, outs


def prune_on(tmp: Path, data: Path):
    script, args, outs = prune(tmp, checkpoint(tmp))
    args[args.index("--data") + 1] = data
    return script, args, outs


def predict_on(tmp: Path, data: Path):
    script, args, outs = predict(tmp, checkpoint(tmp), corrupted=False)
    args[args.index("--data") + 1] = data
    i = args.index("--corrupted")  # the labels are checked when the data is loaded, before any corrupted set
    return script, args[:i] + args[i + 4:], outs[:4]


def predict(tmp: Path, source: Path, variant="pruned", corrupted=True):
    """The predict stage on ``source``; with a valid corrupted set unless ``corrupted`` is False (it is checked first)."""
    from compression_audit.core.config import load_params
    from compression_audit.data.corrupt import make_corrupted

    params = params_file(tmp, lambda raw: raw["corruptions"].update({"images": 20}))
    if corrupted:
        make_corrupted(load_params(params), "cifar10", PREPARED[0], tmp / "corrupted")
    outs = [tmp / "p" / f"{variant}.parquet", tmp / "p" / "m.json", tmp / "p" / "c.csv", tmp / "p" / "r.csv",
            tmp / "p" / f"{variant}-corrupted.npz"]
    args = ["--dataset", "cifar10", "--model", "lenet5", "--variant", variant, "--source", source,
            "--data", PREPARED[0], "--out", outs[0], "--metrics", outs[1], "--confusion", outs[2],
            "--reliability", outs[3], "--corrupted", tmp / "corrupted", "--corrupted-out", outs[4],
            "--params", params]
    return "predict.py", args, outs


def relabelled(tmp: Path, split: str, labels: Callable[[np.ndarray], np.ndarray]) -> Path:
    """A copy of the prepared dataset whose ``split`` labels are replaced, as a damaged or hand-edited copy would be."""
    import shutil

    copy = tmp / "data" / "prepared" / "cifar10"
    shutil.copytree(PREPARED[0], copy)
    file = copy / f"{split}_labels.npy"
    np.save(file, labels(np.load(file)))
    return copy


def out_of_range(y: np.ndarray) -> np.ndarray:
    y = y.copy()
    y[0], y[-1] = 10, -1  # ten classes: 0..9
    return y


def predict_into_a_file(tmp: Path):
    script, args, outs = predict(tmp, checkpoint(tmp))
    blocker = tmp / "p" / "blocker"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the metrics folder should be")
    args[args.index("--metrics") + 1] = blocker / "m.json"
    return script, args, [o for o in outs if o != outs[1]]  # the other outputs, planted stale, must go


def predict_without_corrupted_out(tmp: Path):
    """--corrupted without --corrupted-out: the corrupted images would be read and their predictions lost."""
    script, args, outs = predict(tmp, checkpoint(tmp), corrupted=False)
    i = args.index("--corrupted-out")
    return script, args[:i] + args[i + 2:], outs[:4]


def evaluate_missing(tmp: Path):
    outs = [tmp / "e" / "d.json", tmp / "e" / "m.json", tmp / "e" / "c.csv"]
    args = ["--dataset", "cifar10", "--model", "lenet5", "--variant", "pruned",
            "--baseline", tmp / "p" / "seed0.parquet", "--compared", tmp / "p" / "pruned.parquet",
            "--details", outs[0], "--metrics", outs[1], "--per-class", outs[2],
            "--baseline-corrupted", tmp / "p" / "seed0-corrupted.npz", "--compared-corrupted", tmp / "p" / "pruned-corrupted.npz",
            "--params", params_file(tmp)]
    return "evaluate.py", args, outs


def quantize_unknown(tmp: Path):
    outs = [tmp / "q" / "w3a8.pt", tmp / "q" / "m.json"]
    args = ["--dataset", "cifar10", "--model", "lenet5", "--variant", "w3a8", "--source", checkpoint(tmp),
            "--data", PREPARED[0], "--out", outs[0], "--metrics", outs[1], "--params", params_file(tmp)]
    return "quantize.py", args, outs


CASES = [
    # params: checked by the validate stage, which every other stage waits for
    Case("params: typo'd key", "prune.amuont: unknown key; did you mean 'amount'", validate(typo)),
    Case("params: prune amount out of range", "prune.amount: must be a fraction in [0, 1) or 'auto'",
         validate(setter("prune", "amount", 1.2))),
    Case("params: bits of the wrong type", "quantize.variants.w4a8.weight_bits: expected an integer, got 'four'",
         validate(setter("quantize", "variants", "w4a8", "weight_bits", "four"))),
    Case("params: unsupported bit width", "weight_bits: 3 is not supported; valid: 4, 8",
         validate(setter("quantize", "variants", "w4a8", "weight_bits", 3))),
    Case("params: epochs out of range", "models.resnet18.epochs: must be in [1, 1000], got 0",
         validate(setter("models", "resnet18", "epochs", 0))),
    Case("params: batch size of the wrong type", "models.lenet5.batch_size: expected an integer, got 12.5",
         validate(setter("models", "lenet5", "batch_size", 12.5))),
    Case("params: seed of the wrong type", "seeds[1]: expected an integer, got '1; rm -rf ~'",
         validate(setter("seeds", [0, "1; rm -rf ~"]))),
    Case("params: negative seed", "seeds: seeds must be >= 0", validate(setter("seeds", [0, -3]))),
    Case("params: unknown model", "models.vgg16: unknown model; built-in: lenet5, squeezenet, resnet18, or declare your own with builder",
         validate(unknown_model)),
    Case("params: unknown dataset", "datasets.mnist: unknown dataset; built-in: cifar10, gtsrb, or declare your own with imagefolder", validate(unknown_dataset)),
    Case("params: unknown saliency method", "saliency.methods[0]: 'gradcam' is not valid",
         validate(setter("saliency", "methods", ["gradcam"]))),
    Case("params: unknown variant to evaluate", "evaluate.variants[1]: 'w2a8' is not a model this pipeline makes",
         validate(setter("evaluate", "variants", ["seed1", "w2a8"]))),
    Case("params: shell in a variant name", "variant names become file names and words of stage command lines",
         validate(hostile_variant)),  # under real DVC, before any shell runs: tests/test_security.py
    Case("params: out of range, read by a data stage", "data.val_fraction: must be in (0, 0.5)",
         fetch(tree(), val_fraction=0.9)),
    # data
    Case("data: source missing", "no local copy of 'cifar10'", fetch(lambda src: src.mkdir(parents=True))),
    Case("data: corrupt archive", "corrupt or truncated", fetch(archive(lambda b: b"\x1f\x8b\x08" + b[3:40] + b"\0" * 64))),
    Case("data: truncated archive", "corrupt or truncated", fetch(archive(lambda b: b[: len(b) // 2]))),
    Case("data: checksum mismatch", "checksum mismatch", with_checksum(fetch(archive(lambda b: b)))),
    Case("data: class folders not matching", "missing ['cat'], unexpected ['kitten']", fetch(renamed_class)),
    Case("data: empty class folder", "dog has no images", fetch(emptied_class)),
    Case("data: undecodable image", "cannot decode image", fetch(undecodable)),
    Case("data: images of the wrong size", "expected 32x32 RGB; set data.resize: true", fetch(tree(size=40))),
    Case("data: images of the wrong mode", "expected 32x32 RGB; set data.resize: true", fetch(tree(mode="L"))),
    # whatever the decoder raises, the message names the file (for an archive: the member, not a temporary path)
    Case("data: a decompression-bomb image", "cannot decode image",
         fetch(with_file("train/cat/bomb.png", png_header(100_000, 100_000))), never_said=["Traceback"]),
    Case("data: a PPM the decoder rejects with ValueError", "train/cat/bad.ppm (ValueError",
         fetch(with_file("train/cat/bad.ppm", b"P6\n32 32\n70000\n" + b"\0" * 10))),
    Case("data: an undecodable member of an archive", "cifar10.tar.gz: train/cat/bomb.png (DecompressionBombError",
         fetch(raw_archive([("train/cat/bomb.png", png_header(100_000, 100_000), "file")], base=tree()))),
    # names that are not UTF-8: refused at import, before DVC ever hashes them
    Case("data: a file name that is not UTF-8", "train/cat/caf\\xe9.png: the name is not valid UTF-8; rename it",
         fetch(with_file(b"train/cat/caf\xe9.png", a_valid_image()))),
    Case("data: a folder name that is not UTF-8", "the name is not valid UTF-8",
         fetch(with_file(b"test/\xff\xfe/x.png", a_valid_image()))),
    Case("data: an archive member name that is not UTF-8", "cifar10.tar.gz: train/dog/\\xff.png: the name is not valid UTF-8",
         fetch(raw_archive([(b"train/dog/\xff.png", a_valid_image(), "file")], base=tree()))),
    # archives: each failure its own cause and fix
    Case("data: an archive member outside the folder", "has an unsafe member '../escape.txt'",
         fetch(raw_archive([("../escape.txt", b"x", "file")])), never_said=["corrupt or truncated"]),
    Case("data: an archive link to an absolute path", "unsafe member 'train/cat/link.png' (AbsoluteLinkError",
         fetch(raw_archive([("train/cat/link.png", "/etc/passwd", "symlink")])), never_said=["corrupt or truncated"]),
    Case("data: no space to extract an archive", "no space to extract archive",
         fetch(raw_archive([("train/readme.bin", b"\0" * 200_000, "file")], base=tree())),
         file_size_limit=100_000, never_said=["corrupt or truncated"]),
    # training and models
    Case("train: loss diverges", "training diverged in epoch",
         lambda tmp: train(tmp, lambda raw: raw["models"]["lenet5"].update(lr=10.0, momentum=0.99, warmup_fraction=0.01))),
    Case("train: unknown model on the command line", "'vgg' is not in params.yaml's models; valid: lenet5, squeezenet, resnet18",
         lambda tmp: train(tmp, model="vgg")),
    Case("prune: checkpoint of another architecture", "holds a lenet5 model, but this stage expects squeezenet",
         lambda tmp: prune(tmp, checkpoint(tmp), model="squeezenet")),
    Case("prune: checkpoint of another class count", "trained for 43 classes, but the data has 10",
         lambda tmp: prune(tmp, checkpoint(tmp, classes=43))),
    Case("predict: pickled code in a model file", "refusing to load",
         lambda tmp: predict(tmp, pickled_code(tmp)), not_created=["PWNED"],
         never_said=["weights_only", "add_safe_globals"]),  # never advise loading it the unsafe way
    Case("train: a directory where an output file belongs", "is an existing directory, not a file",
         lambda tmp: train_into_directory(tmp)),
    Case("quantize: unknown variant on the command line", "unknown quantization variant 'w3a8'; valid: w8a8, w4a8",
         quantize_unknown),
    # missing upstream outputs
    Case("train: prepared data missing", "run `dvc repro` so the fetch stage makes it",
         lambda tmp: train(tmp, data=tmp / "data" / "prepared" / "cifar10")),
    Case("predict: model file missing", "run `dvc repro`", lambda tmp: predict(tmp, tmp / "models" / "pruned.pt")),
    Case("evaluate: predictions missing", "run `dvc repro`", evaluate_missing),
    Case("predict: corrupted test set missing", "run `dvc repro` so the corrupt stage makes it",
         lambda tmp: predict(tmp, checkpoint(tmp), corrupted=False)),
    Case("predict: --corrupted without --corrupted-out", "--corrupted and --corrupted-out go together",
         predict_without_corrupted_out),
    # failed writes: each names the output and the cause
    Case("train: the disk fills while the model is written", "the disk is probably full",
         lambda tmp: train(tmp, lambda raw: raw["models"]["lenet5"].update(epochs=1, batch_size=16)),
         file_size_limit=16_384),
    Case("prune: the disk fills while the model is written", "cannot write",
         lambda tmp: prune(tmp, checkpoint(tmp)), file_size_limit=65_536),
    Case("predict: an output folder that is a file", "a part of the path is a file, not a folder",
         lambda tmp: predict_into_a_file(tmp)),
    # prepared data whose labels do not fit its class list: checked wherever prepared data is loaded
    Case("train: train labels outside the class range", "2 train label(s) outside the 10 classes of meta.json (values: -1, 10)",
         lambda tmp: train(tmp, data=relabelled(tmp, "train", out_of_range)), never_said=["Traceback"]),
    Case("train: validation labels of the wrong type", "the val labels are float64 values of shape",
         lambda tmp: train(tmp, data=relabelled(tmp, "val", lambda y: y.astype(np.float64)))),
    Case("prune: test labels outside the class range", "rerun the fetch stage (`dvc repro -f fetch@cifar10`)",
         lambda tmp: prune_on(tmp, relabelled(tmp, "test", lambda y: np.full_like(y, 12)))),
    Case("predict: test labels of the wrong shape", "the test labels are int64 values of shape",
         lambda tmp: predict_on(tmp, relabelled(tmp, "test", lambda y: np.stack([y, y], 1)))),
]


def plant_stale(outputs: list[Path]) -> None:
    """What an earlier successful run left: the stage must not leave it looking like this run's result."""
    for path in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == "" and path.name in ("cifar10", "gtsrb"):
            path.mkdir(exist_ok=True)
            (path / "meta.json").write_text("{}")
        else:
            path.write_bytes(b"stale output of an earlier run")


def run_case(case: Case, tmp: Path) -> subprocess.CompletedProcess:
    script, args, outputs = case.setup(tmp)
    plant_stale(outputs)
    inputs = [Path(a) for a in args if isinstance(a, Path) and Path(a) not in outputs and Path(a).exists()]
    inputs += [f for d in inputs if d.is_dir() for f in d.rglob("*")]
    result = run_stage(script, args, case.file_size_limit)
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    assert case.expected in result.stderr, result.stderr
    for path in outputs:
        assert not path.exists(), f"{path} left in place"
        leftovers = list(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.exists() else []
        assert not leftovers, leftovers
    missing = [p for p in inputs if not p.exists()]
    assert not missing, f"inputs deleted by the failed stage: {missing}"
    for phrase in case.never_said:
        assert phrase not in result.stderr, result.stderr
    for name in case.not_created:
        assert not list(tmp.rglob(name)) and not (REPO / name).exists(), f"{name} exists: code from the input ran"
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, prepared):
    PREPARED[:] = [prepared]
    run_case(case, tmp_path)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        script, args, outs = fetch(tree())(base / "prepared")
        assert run_stage(script, args).returncode == 0
        PREPARED[:] = [outs[0]]
        for i, case in enumerate(CASES):
            (base / f"case{i}").mkdir()
            result = run_case(case, base / f"case{i}")
            first = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
            print(f"| {case.id} | `{first}` |")
