"""A tour of bad inputs through the command line.

Each case runs ``catsmt.cli.main`` in this process and checks three things: a non-zero exit
code, one ``catsmt: error:`` line (no traceback) that names the file, line, key or argument at
fault, and that nothing already on disk was damaged. A few cases are recoveries instead (a
corrupted last checkpoint falls back to an older one, with a warning).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest
import torch
import yaml

from catsmt.cli import main
from catsmt.data.recipes import OPUS_SHA256, OPUS_URL, build
from catsmt.run import checkpoint as checkpoint_mod
from catsmt.run.checkpoint import load_checkpoint

CACHE = ".catsmt-cache"
CONFIG: dict[str, dict[str, object]] = {
    "data": {"vocab_size": 120, "max_tokens": 512, "langs_per_batch": 2},
    "model": {"preset": "tiny", "layers": 1, "dim": 32, "ffn_dim": 64},
    "train": {
        "device": "cpu", "threads": 1, "max_steps": 2, "valid_every": 2, "save_every": 1,
        "keep_last": 2, "warmup_steps": 10, "progress": False, "tensorboard": False,
    },
}


def _chmod_stops_writes() -> bool:
    """Whether a folder chmod-ed 555 refuses new files: not for root (``os.geteuid() == 0``)
    unless it runs without CAP_DAC_OVERRIDE, e.g. under ``capsh --drop=cap_dac_override``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "readonly"
        folder.mkdir()
        folder.chmod(0o555)
        try:
            (folder / "probe").touch()
        except PermissionError:
            return True
        finally:
            folder.chmod(0o755)
        return False


needs_effective_chmod = pytest.mark.skipif(
    not _chmod_stops_writes(), reason=f"chmod does not stop this user (euid {os.geteuid()}) from writing"
)


def _find_mirror() -> Path | None:
    env = os.environ.get("CATSMT_MIRROR")
    path = Path(env) if env else (Path(__file__).parents[1] / ".." / "shared" / "mirror").resolve()
    return path if path.is_dir() else None


# -- helpers -----------------------------------------------------------------------------------


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str | Path, code: int = 1) -> str:
    """Run the CLI, expect exit ``code`` and exactly one error line; return that line."""
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == code, f"exit code {rc}, expected {code}; stderr:\n{err}"
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("catsmt: error: ")]
    assert len(errors) == 1, f"expected one error line, got:\n{err}"
    return errors[0]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (the data cache aside, which is ours to write) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and CACHE not in p.parts
    }


def write_config(path: Path, data_dir: Path, run_dir: Path, **sections: dict[str, object]) -> Path:
    cfg = {k: dict(v) for k, v in CONFIG.items()}
    cfg["data"]["dir"] = str(data_dir)
    cfg["train"]["run_dir"] = str(run_dir)
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def corpus_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "synthetic"
    build("synthetic", out, sizes=[200, 200], valid=20, test=20)
    return out


@pytest.fixture
def corpus(corpus_master: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny corpus, free to break."""
    return Path(shutil.copytree(corpus_master, tmp_path / "corpus", ignore=shutil.ignore_patterns(CACHE)))


@pytest.fixture(scope="module")
def trained_master(corpus_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-update run: checkpoints last.pt (= step-2), step-1 and best."""
    root = tmp_path_factory.mktemp("trained")
    config = write_config(root / "c.yaml", corpus_master, root / "run")
    assert main(["train", str(config)]) == 0
    return root / "run"


@pytest.fixture
def run(trained_master: Path, tmp_path: Path) -> Path:
    """A private copy of the trained run."""
    return Path(shutil.copytree(trained_master, tmp_path / "run"))


# -- configuration -----------------------------------------------------------------------------


def test_config_file_with_a_typo_key(capsys, corpus, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run", train={"max_step": 5})
    before = config.read_bytes()
    line = cli_error(capsys, "train", config)
    assert line == f"catsmt: error: {config}: unknown key 'max_step' in train; did you mean 'max_steps'?"
    assert config.read_bytes() == before and not (tmp_path / "run").exists()


def test_config_file_with_a_typo_section(capsys, corpus, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run", trian={"max_steps": 5})
    line = cli_error(capsys, "train", config)
    assert line == f"catsmt: error: {config}: unknown key 'trian'; did you mean 'train'?"


def test_override_with_a_typo_key(capsys, corpus, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run")
    line = cli_error(capsys, "train", config, "weighting.temprature=2")
    assert line == (
        "catsmt: error: command-line override: unknown key 'temprature' in weighting (method 'temperature'); "
        "did you mean 'temperature'?"
    )


def test_config_value_of_the_wrong_type(capsys, corpus, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run", train={"max_steps": "ten"})
    line = cli_error(capsys, "train", config)
    assert line == f"catsmt: error: {config}: train.max_steps: expected an integer, got 'ten'"
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run")
    line = cli_error(capsys, "train", config, "model.dropout=high")
    assert line == "catsmt: error: command-line override: model.dropout: expected a number, got 'high'"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.layers=0", "layers must be >= 1, got 0"),
        ("model.heads=0", "heads must be >= 1, got 0"),
        ("model.dim=-128", "dim must be >= 1, got -128"),
        ("model.dropout=1.5", "dropout must be in [0, 1), got 1.5"),
        ("train.max_bad_steps=0", "max_bad_steps must be >= 1, got 0"),
        ("train.max_minutes=-1", "max_minutes must be >= 0, got -1"),
        ("train.warmup_steps=-5", "warmup_steps must be >= 0, got -5"),
        ("train.keep_last=-1", "keep_last must be >= 0, got -1"),
        ("train.clip_norm=-1", "clip_norm must be >= 0, got -1"),
        ("train.save_every=-2", "save_every must be >= 0, got -2"),
        ("train.label_smoothing=1.5", "label_smoothing must be in [0, 1), got 1.5"),
        ("data.vocab_model=wordpiece", "vocab_model must be one of unigram, bpe, got 'wordpiece'"),
        ("data.vocab_temperature=0", "vocab_temperature must be > 0 (inf = uniform), got 0.0"),
        ("data.min_part_tokens=-1", "min_part_tokens must be >= 0, got -1"),
        ("decode.max_len_a=-1", "max_len_a and max_len_b must be >= 0 (and max_len_a finite), got -1.0 and 10"),
        ("weighting.method=cats", None),  # valid: for contrast
        ("weighting.update_every=[]", "update_every needs at least one"),
    ],
)
def test_out_of_range_values_are_refused_before_anything_is_written(capsys, corpus, tmp_path, override, message) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run")
    if message is None:
        from catsmt.config import load_config

        load_config(config, [override])
        return
    extra = ["weighting.method=cats"] if override.startswith("weighting.update") else []
    line = cli_error(capsys, "train", config, *extra, override)
    assert message in line, line
    assert not (tmp_path / "run").exists()


def test_config_out_of_range_names_the_file_the_key_and_the_range(capsys, corpus, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run", train={"max_bad_steps": 0})
    line = cli_error(capsys, "train", config)
    assert line == f"catsmt: error: {config}: train: max_bad_steps must be >= 1, got 0"
    line = cli_error(capsys, "train", config, "train.max_bad_steps=5", "train.max_minutes=-1")
    assert line == "catsmt: error: command-line override: train: max_minutes must be >= 0, got -1.0"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("where", ["top level", "nested"])
def test_config_with_a_duplicate_key(capsys, corpus, tmp_path, where) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run")
    text = config.read_text()
    if where == "top level":  # a second data: block pasted below, which PyYAML would keep alone
        text += "data:\n  vocab_size: 100\n"
        key = "data"
    else:
        text = text.replace("train:\n", "train:\n  max_steps: 7\n", 1)
        key = "train.max_steps"
    config.write_text(text)
    lines = text.splitlines()
    first, second = (i + 1 for i, x in enumerate(lines) if x.strip().startswith(key.split(".")[-1] + ":"))
    line = cli_error(capsys, "train", config)
    assert line == (
        f"catsmt: error: {config}: line {second}: duplicate key '{key}' (first given at line {first}); "
        "each key may appear once"
    )
    assert config.read_text() == text and not (tmp_path / "run").exists()


def test_yaml_merge_keys_may_still_be_overridden(tmp_path) -> None:
    from catsmt.config import read_yaml

    path = tmp_path / "c.yaml"
    path.write_text("base: &b {lr: 0.1, seed: 2}\ntrain:\n  <<: *b\n  lr: 0.2\n")
    assert read_yaml(path)["train"] == {"lr": 0.2, "seed": 2}


def test_config_that_is_not_yaml(capsys, tmp_path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("train:\n  max_steps: 3\n  lr: [0.1\n")
    line = cli_error(capsys, "train", config)
    assert line.startswith(f"catsmt: error: {config}: not valid YAML: ") and "line 4" in line


def test_missing_config_file(capsys, tmp_path) -> None:
    line = cli_error(capsys, "train", tmp_path / "nope.yaml")
    assert line == f"catsmt: error: config file not found: {tmp_path / 'nope.yaml'}"


def test_override_without_equals_sign(capsys, corpus, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run")
    line = cli_error(capsys, "train", config, "max_steps")
    assert "override 'max_steps' is not of the form section.key=value" in line


def test_train_without_a_config(capsys) -> None:
    line = cli_error(capsys, "train", code=2)
    assert line == "catsmt: error: train needs a CONFIG file (or --resume RUN)"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is there")
def test_cuda_device_without_cuda(capsys, corpus, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run", train={"device": "cuda"})
    line = cli_error(capsys, "train", config)
    assert line == "catsmt: error: train.device: device 'cuda' asked for but no CUDA device is available; use cpu"


def test_unknown_device_name(capsys, corpus, run, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "new-run", train={"device": "gpu0"})
    line = cli_error(capsys, "train", config)
    assert line == "catsmt: error: train.device: unknown device 'gpu0'; use auto, cpu, cuda or cuda:N"
    assert not (tmp_path / "new-run").exists()
    before = snapshot(run)
    line = cli_error(capsys, "translate", run, "--src-lang", "eng", "--tgt-lang", "syna", "--device", "gpu0", code=2)
    assert line == "catsmt: error: --device gpu0: unknown device 'gpu0'; use auto, cpu, cuda or cuda:N"
    line = cli_error(capsys, "evaluate", run, "--device", "gpu0", code=2)
    assert line == "catsmt: error: --device gpu0: unknown device 'gpu0'; use auto, cpu, cuda or cuda:N"
    assert snapshot(run) == before


def test_compare_on_the_training_split_is_refused(capsys, corpus, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run")
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(config), "--split", "train", "--out", str(out)])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert errors == ["catsmt compare: error: argument --split: invalid choice: 'train' (choose from 'valid', 'test')"]
    assert not out.exists()


# -- corpus ------------------------------------------------------------------------------------


def corpus_error(capsys, corpus: Path, tmp_path: Path, *overrides: str) -> str:
    """Train on the (broken) corpus: one error line, the corpus untouched, no run folder left."""
    before = snapshot(corpus)
    config = write_config(tmp_path / "c.yaml", corpus, tmp_path / "run")
    line = cli_error(capsys, "train", config, *overrides)
    assert snapshot(corpus) == before
    assert not (tmp_path / "run").exists(), "a failed start left a run folder that blocks the retry"
    return line


def test_corpus_with_mismatched_line_counts(capsys, corpus, tmp_path) -> None:
    target = corpus / "train.eng-synb.synb"
    n = len(target.read_bytes().splitlines())
    with open(target, "ab") as f:
        f.write(b"one line too many\n")
    line = corpus_error(capsys, corpus, tmp_path)
    assert line == (
        f"catsmt: error: {corpus / 'train.eng-synb.eng'} has {n} lines but {target} has {n + 1}; "
        f"{target}:{n + 1} is the first line without a counterpart"
    )


def test_corpus_with_an_empty_line(capsys, corpus, tmp_path) -> None:
    target = corpus / "valid.eng-syna.syna"
    lines = target.read_text().splitlines()
    lines[6] = "   "
    target.write_text("\n".join(lines) + "\n")
    line = corpus_error(capsys, corpus, tmp_path)
    assert line == f"catsmt: error: {target}:7: empty or whitespace-only line; every line must hold a sentence"


def test_corpus_with_invalid_utf8(capsys, corpus, tmp_path) -> None:
    target = corpus / "train.eng-syna.eng"
    lines = target.read_bytes().splitlines()
    lines[2] = b"caf\xe9 au lait"
    target.write_bytes(b"\n".join(lines) + b"\n")
    line = corpus_error(capsys, corpus, tmp_path)
    assert line == f"catsmt: error: {target}:3: invalid UTF-8 (invalid continuation byte at byte 3 of the line)"


def test_language_with_no_data(capsys, corpus, tmp_path) -> None:
    line = corpus_error(capsys, corpus, tmp_path, "data.langs=[syna,xyz]")
    assert line == f"catsmt: error: no data for language 'xyz' in {corpus} (fairseq layout, pivot 'eng'); found: syna, synb"


def test_language_with_no_valid_set(capsys, corpus, tmp_path) -> None:
    for name in ("valid.eng-synb.eng", "valid.eng-synb.synb", "valid.synb-eng.eng", "valid.synb-eng.synb"):
        (corpus / name).unlink()
    line = corpus_error(capsys, corpus, tmp_path)
    assert line.startswith(f"catsmt: error: language 'synb' has no valid set (needed for training) in {corpus}: expected valid.eng-synb.eng")


def test_corpus_folder_with_a_fifo(capsys, corpus, tmp_path) -> None:
    fifo = corpus / "train.eng-syna.eng.fifo"
    os.mkfifo(fifo)

    def hung(signum: int, frame: object) -> None:
        pytest.fail("reading the corpus folder blocked on the FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        line = corpus_error(capsys, corpus, tmp_path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert line == (
        f"catsmt: error: {fifo} is a FIFO (named pipe), not a regular file; a corpus folder holds "
        "only regular files and folders (remove it or move it elsewhere)"
    )


def test_vocab_size_larger_than_the_corpus_gives_says_what_it_got(corpus, caplog) -> None:
    from catsmt.data import prepare_data
    from catsmt.data.config import DataConfig

    with caplog.at_level("INFO"):
        data = prepare_data(DataConfig(dir=str(corpus), vocab_size=100000, max_tokens=512))
    assert 100 < data.vocab.size < 1000
    assert "100000-piece" not in caplog.text
    assert (
        f"data.vocab_size is 100000, but this corpus supports only {data.vocab.size} pieces: "
        f"using a {data.vocab.size}-piece vocabulary"
    ) in caplog.text


def test_missing_corpus_directory(capsys, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "nowhere", tmp_path / "run")
    line = cli_error(capsys, "train", config)
    assert line == f"catsmt: error: corpus directory '{tmp_path / 'nowhere'}' does not exist"


# -- data get --------------------------------------------------------------------------------------


def test_data_get_into_a_non_empty_unrelated_folder(capsys, tmp_path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n")
    (out / "train.eng-xyz.eng").write_text("my sentence\n")
    before = snapshot(out)
    line = cli_error(capsys, "data", "get", "synthetic", "--out", out, "sizes=[20]")
    assert line == (
        f"catsmt: error: output {out} is not empty and is not a catsmt build (no valid stats.json); "
        "nothing was written. Choose a new or empty directory, or pass --overwrite to replace its corpus files"
    )
    assert snapshot(out) == before


def test_data_get_with_an_unknown_option(capsys, tmp_path) -> None:
    line = cli_error(capsys, "data", "get", "synthetic", "--out", tmp_path / "out", "sizs=[20]")
    assert line == "catsmt: error: unknown option 'sizs' for recipe 'synthetic'; did you mean 'sizes'?"
    assert not (tmp_path / "out").exists()


def test_data_get_with_sizes_beyond_the_synthetic_maximum(capsys, tmp_path) -> None:
    line = cli_error(capsys, "data", "get", "synthetic", "--out", tmp_path / "out", "sizes=[10000000]")
    assert line == (
        "catsmt: error: sizes must be <= 1000000 pairs per language, got 10000000 "
        "(synthetic's grammar runs short of distinct sentences beyond that)"
    )
    assert not (tmp_path / "out").exists()


def test_data_get_with_an_unknown_recipe(capsys, tmp_path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "get", "nope", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "argument name: invalid choice: 'nope'" in capsys.readouterr().err.splitlines()[-1]


def test_checksum_mismatch_in_a_mirror(capsys, tmp_path) -> None:
    mirror = _find_mirror()
    if mirror is None:
        pytest.skip("offline mirror not found at ../shared/mirror and CATSMT_MIRROR unset")
    fake = tmp_path / "mirror"
    rels = [r for r in OPUS_SHA256 if "/eng-glg/" in r]
    prefix = "https://raw.githubusercontent.com/"
    for rel in rels:
        src = mirror / (OPUS_URL + rel)[len(prefix):]
        dst = fake / (OPUS_URL + rel)[len(prefix):]
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    bad = fake / (OPUS_URL + sorted(rels)[-1])[len(prefix):]  # the .glg side
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x20
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    line = cli_error(capsys, "data", "get", "tatoeba-related", "--out", out, "--mirror", fake, "langs=[glg]", "train_cap={}")
    expected = OPUS_SHA256[sorted(rels)[-1]]
    assert line.startswith(f"catsmt: error: sha256 mismatch for {bad}: expected {expected}, got ")
    assert line.endswith(" was not written") and hashlib.sha256(bytes(data)).hexdigest() in line
    assert not (out / "stats.json").exists() and not list(out.glob("*.glg"))


# -- run folders and checkpoints ---------------------------------------------------------------


def test_train_into_an_existing_run_without_resume(capsys, run, tmp_path) -> None:
    before = snapshot(run)
    config = write_config(tmp_path / "c.yaml", Path(yaml.safe_load((run / "config.yaml").read_text())["data"]["dir"]), run)
    line = cli_error(capsys, "train", config)
    assert line == (
        f"catsmt: error: run folder {run} already exists and is not empty (it has checkpoints; "
        "add --resume to continue it); choose another train.run_dir"
    )
    assert snapshot(run) == before


def test_resume_a_missing_folder(capsys, tmp_path) -> None:
    line = cli_error(capsys, "train", "--resume", tmp_path / "nope", code=2)
    assert line == f"catsmt: error: --resume {tmp_path / 'nope'}: no such run folder"


def test_resume_a_folder_that_is_not_a_run(capsys, tmp_path) -> None:
    line = cli_error(capsys, "train", "--resume", tmp_path, code=2)
    assert line == f"catsmt: error: --resume {tmp_path}: no config.yaml there (is it a catsmt run folder?)"


def test_corrupted_last_checkpoint_falls_back_with_a_warning(capsys, caplog, run) -> None:
    ckpts = run / "checkpoints"
    data = bytearray((ckpts / "last.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    for name in ("last.pt", "step-0000002.pt"):  # one file under two names in a real run folder
        (ckpts / name).write_bytes(bytes(data))
    assert main(["train", "--resume", str(run), "train.max_steps=3"]) == 0
    assert f"checkpoint {ckpts / 'last.pt'} is corrupted or truncated" in caplog.text
    assert f"checkpoint {ckpts / 'step-0000002.pt'} is corrupted or truncated" in caplog.text
    assert f"resuming from {ckpts / 'step-0000001.pt'} (step 1)" in caplog.text
    assert load_checkpoint(ckpts / "last.pt")["step"] == 3


def test_no_readable_checkpoint(capsys, run) -> None:
    for p in (run / "checkpoints").glob("*.pt"):
        p.write_bytes(b"not a checkpoint")
    line = cli_error(capsys, "train", "--resume", run, "train.max_steps=3")
    assert line.startswith(f"catsmt: error: no usable checkpoint in {run / 'checkpoints'}: checkpoint ")


class _Payload:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_pickled_code_is_refused(capsys, run, tmp_path) -> None:
    ckpts = run / "checkpoints"
    for p in ckpts.glob("step-*"):
        p.unlink()
    marker = tmp_path / "pwned"
    evil = ckpts / "last.pt"
    evil.unlink()
    torch.save({"format_version": 1, "model": _Payload(marker)}, evil)
    (ckpts / "last.pt.sha256").write_text(hashlib.sha256(evil.read_bytes()).hexdigest() + "\n")  # as an attacker would
    before = snapshot(run)
    line = cli_error(capsys, "train", "--resume", run, "train.max_steps=3")
    assert line == (
        f"catsmt: error: no usable checkpoint in {ckpts}: refusing to load {evil}: it contains objects "
        "other than tensors and plain data (possibly code); catsmt loads checkpoints with weights_only=True "
        "(Trying to load unsupported GLOBAL posix.system whose module posix is blocked.)"
    )
    assert not marker.exists(), "the checkpoint's code ran"
    assert snapshot(run) == before


def test_disk_full_while_saving_keeps_the_previous_checkpoint(capsys, run, monkeypatch) -> None:
    ckpts = run / "checkpoints"
    before = {p.name: p.read_bytes() for p in ckpts.iterdir()}

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_mod, "write_temporary", disk_full)  # the checkpoint's own write
    line = cli_error(capsys, "train", "--resume", run, "train.max_steps=4")
    monkeypatch.undo()
    assert line == (
        f"catsmt: error: cannot save the step 3 checkpoint in {ckpts}: [Errno 28] No space left on device; "
        "the previous checkpoint there is intact"
    )
    assert {p.name: p.read_bytes() for p in ckpts.iterdir()} == before  # no temporary file either
    assert load_checkpoint(ckpts / "last.pt")["step"] == 2


@needs_effective_chmod
def test_new_run_in_a_folder_that_is_not_writable(capsys, corpus, tmp_path) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        config = write_config(tmp_path / "c.yaml", corpus, parent / "run")
        line = cli_error(capsys, "train", config)
    finally:
        parent.chmod(0o755)
    assert line == f"catsmt: error: cannot write the run folder {parent / 'run'}: {parent} is not writable"
    assert not (parent / "run").exists()


@needs_effective_chmod
def test_resume_a_run_folder_that_is_not_writable(capsys, run) -> None:
    before = snapshot(run)
    folders = [run, run / "checkpoints"]
    for folder in folders:
        folder.chmod(0o555)
    try:
        line = cli_error(capsys, "train", "--resume", run, "train.max_steps=3")
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert line == f"catsmt: error: cannot write the run folder {run}: {run} is not writable"
    assert snapshot(run) == before
