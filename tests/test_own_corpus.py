"""The README's "Train on your own corpus", followed as written.

A user's own TSV corpus with two-letter codes (en with be and ru, text from the synthetic
recipe) is written into a temporary folder; the commands of the section's first code block
then run there in real processes, as the user types them, with only settings for a tiny
model added to ``catsmt train``. A change of the README's commands changes what runs here.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from catsmt.config import load_config
from catsmt.data.recipes import build

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Train on your own corpus"
# A model that trains in seconds (tests/training/conftest.py's tiny_config), for a few steps.
TINY = [
    "data.vocab_size=200", "data.max_tokens=768", "model.layers=1", "model.dim=64",
    "model.ffn_dim=128", "train.device=cpu", "train.threads=1", "train.lr=0.005",
    "train.warmup_steps=30", "train.max_steps=6", "train.valid_every=3", "train.log_every=3",
    "train.progress=false", "train.tensorboard=false",
]


def readme_commands() -> list[list[str]]:
    """The ``catsmt ...`` lines of the section's first ``bash`` block, comments dropped."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"README.md has no section '{SECTION}'"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.startswith("catsmt ")]


def write_user_corpus(folder: Path, scratch: Path) -> None:
    """``{train,valid,test}.en-be.tsv`` and ``...en-ru.tsv``: 300 and 100 training pairs."""
    build("synthetic", scratch, sizes=[300, 100], valid=30, test=30)
    folder.mkdir()
    for recipe_lang, code in (("syna", "be"), ("synb", "ru")):
        for split in ("train", "valid", "test"):
            eng = (scratch / f"{split}.eng-{recipe_lang}.eng").read_text(encoding="utf-8").split("\n")[:-1]
            other = (scratch / f"{split}.eng-{recipe_lang}.{recipe_lang}").read_text(encoding="utf-8").split("\n")[:-1]
            lines = "".join(f"{e}\t{o}\n" for e, o in zip(eng, other, strict=True))
            (folder / f"{split}.en-{code}.tsv").write_text(lines, encoding="utf-8")


def test_readme_prepare_then_train_on_a_two_letter_tsv_corpus(tmp_path: Path) -> None:
    commands = readme_commands()
    steps = [["catsmt", "prepare"], ["catsmt", "train"], ["catsmt", "export"], ["catsmt", "translate"]]
    assert [c[:2] for c in commands] == steps, commands
    corpus = tmp_path / commands[0][2]  # the folder the README names (my-corpus)
    write_user_corpus(corpus, tmp_path / "scratch")

    sentences = (tmp_path / "scratch" / "test.eng-syna.eng").read_text(encoding="utf-8").splitlines()[:5]
    outputs = []
    for command in commands:
        extra = TINY if command[1] == "train" else []
        args, stdin, stdout = list(command[1:]), None, None
        if "<" in args:  # `< sentences.en > sentences.be`: the shell's redirections
            stdin, stdout = args[args.index("<") + 1], args[args.index(">") + 1]
            args = args[: args.index("<")]
            (tmp_path / stdin).write_text("\n".join(sentences) + "\n", encoding="utf-8")
        if command[1] == "translate":  # from the exported folder alone: corpus and run deleted
            run = tmp_path / load_config(tmp_path / commands[0][commands[0].index("--out") + 1]).train.run_dir
            assert (run / "checkpoints" / "best.pt").is_file() and (run / "config.yaml").is_file()
            events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            valid_events = {(e["step"], e["lang"]) for e in events if e["event"] == "valid" and "nll" in e}
            shutil.rmtree(corpus)
            shutil.rmtree(tmp_path / "runs")
        done = subprocess.run(
            [sys.executable, "-m", "catsmt", *args, *extra], cwd=tmp_path, capture_output=True, text=True,
            timeout=300, stdin=open(tmp_path / stdin, encoding="utf-8") if stdin else None,  # noqa: SIM115
        )
        assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
        if stdout:
            (tmp_path / stdout).write_text(done.stdout, encoding="utf-8")
    translated = (tmp_path / commands[3][-1]).read_text(encoding="utf-8").splitlines()
    assert len(translated) == len(sentences) and any(translated)
    assert sorted(p.name for p in (tmp_path / commands[2][3]).iterdir()) == ["catsmt.json", "model.safetensors", "sentencepiece.model"]

    prepared, trained = outputs[:2]
    assert "(tsv layout): 2 pairs, languages: be, en, ru" in prepared
    rows = [line.split() for line in prepared.splitlines() if line.startswith("en-")]
    assert rows == [["en-be", "300", "30", "30"], ["en-ru", "100", "30", "30"]]
    config = tmp_path / commands[0][commands[0].index("--out") + 1]
    cfg = load_config(config)
    assert (cfg.data.format, cfg.data.pivot, cfg.data.direction) == ("tsv", "en", "o2m")

    assert f"run: {cfg.train.run_dir}  (max_steps after 6 updates" in trained
    assert "valid nll be:" in trained and "valid nll ru:" in trained
    assert valid_events == {(step, lang) for step in (3, 6) for lang in ("be", "ru")}  # the user's own codes
