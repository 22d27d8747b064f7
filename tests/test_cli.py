"""The ``catsmt`` command line as a user runs it: translate and evaluate a trained run.

Commands run in this process through ``catsmt.cli.main`` (stdin replaced by bytes, stdout
and stderr captured); one smoke test starts the real ``python -m catsmt`` and ``catsmt``.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from catsmt.cli import main
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import translate_lines
from catsmt.run.inference import load_inference_model

from .run.test_inference import BRIEF, trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_run(tmp_path_factory, "brief", BRIEF)


@pytest.fixture(scope="module")
def sources(run: Path) -> list[str]:
    return load_inference_model(run).data.raw("test", "synb")[0][:12]


def catsmt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str],
    stdin: bytes = b"",
) -> tuple[int, str, str]:
    """Run ``catsmt ARGS < stdin``; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def translate_args(run: Path, *extra: str) -> list[str]:
    return ["translate", str(run), "--src-lang", "synb", "--tgt-lang", "eng", "--device", "cpu", *extra]


def test_translate_keeps_order_line_count_and_blank_lines(
    run: Path, sources: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = sources[:6] + [""] + sources[6:] + [""]
    stdin = "".join(line + "\n" for line in lines).encode()
    code, out, err = catsmt(capsys, monkeypatch, translate_args(run, "--beam", "2", "--batch-tokens", "64"), stdin)
    assert code == 0, err
    got = out.split("\n")
    assert got[-1] == "" and len(got) - 1 == len(lines)
    got = got[:-1]
    assert got[6] == "" and got[-1] == ""
    loaded = load_inference_model(run)
    assert got == translate_lines(loaded, lines, "synb", DecodeConfig(beam=2, batch_tokens=64))
    assert len(set(got)) > 5, "the model's outputs do not tell sentences apart"

    backwards = "".join(line + "\n" for line in reversed(lines)).encode()
    code, out, _ = catsmt(capsys, monkeypatch, translate_args(run, "--beam", "2", "--batch-tokens", "64"), backwards)
    assert code == 0 and out.split("\n")[:-1] == list(reversed(got))


def test_translate_last_line_without_newline_and_crlf(
    run: Path, sources: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = f"{sources[0]}\r\n{sources[1]}".encode()
    code, out, err = catsmt(capsys, monkeypatch, translate_args(run, "--beam", "1"), stdin)
    assert code == 0, err
    loaded = load_inference_model(run)
    assert out == "".join(
        line + "\n" for line in translate_lines(loaded, sources[:2], "synb", DecodeConfig(beam=1))
    )
    code, out, _ = catsmt(capsys, monkeypatch, translate_args(run), b"")
    assert code == 0 and out == ""


def test_translate_unknown_pair_lists_the_valid_ones(
    run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["translate", str(run), "--src-lang", "eng", "--tgt-lang", "synb", "--device", "cpu"]
    code, out, err = catsmt(capsys, monkeypatch, args, b"hello\n")
    assert code == 1 and out == ""
    assert "catsmt: error: this model does not translate eng-synb; valid pairs: syna-eng, synb-eng" in err


def test_translate_invalid_utf8_names_the_line_and_keeps_the_lines_before_it(
    run: Path, sources: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sources[:3]
    stdin = "".join(line + "\n" for line in before).encode() + b"caf\xe9 au lait\n" + sources[3].encode() + b"\n"
    code, out, err = catsmt(capsys, monkeypatch, translate_args(run, "--beam", "1"), stdin)
    assert code == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("catsmt: error: ")]
    assert errors == [
        "catsmt: error: stdin line 4 is not valid UTF-8 (invalid continuation byte at byte 3); "
        "the translations of lines 1-3 were written"
    ]
    loaded = load_inference_model(run)
    assert out == "".join(line + "\n" for line in translate_lines(loaded, before, "synb", DecodeConfig(beam=1)))

    code, out, err = catsmt(capsys, monkeypatch, translate_args(run), b"caf\xe9\n" + stdin)
    assert code == 1 and out == ""
    assert "catsmt: error: stdin line 1 is not valid UTF-8 (invalid continuation byte at byte 3)\n" in err


def test_translate_cuts_an_over_long_line_with_a_warning_and_translates_the_rest(
    run: Path, sources: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loaded = load_inference_model(run)
    limit = loaded.model.cfg.max_positions
    long = " ".join([sources[2]] * 100)  # more pieces than the model has positions
    n_tokens = len(loaded.data.encode_source([long], "synb")[0])
    assert n_tokens > limit
    lines = [sources[0], long, sources[1]]
    stdin = "".join(line + "\n" for line in lines).encode()
    with caplog.at_level("WARNING"):
        code, out, err = catsmt(capsys, monkeypatch, translate_args(run, "--beam", "1"), stdin)
    assert code == 0, err
    got = out.split("\n")
    assert len(got) == 4 and got[3] == ""
    assert [got[0], got[2]] == translate_lines(loaded, [sources[0], sources[1]], "synb", DecodeConfig(beam=1))
    assert got[1], "the over-long line got no translation"
    assert f"line 2 is {n_tokens} tokens long, over the model's limit of {limit}: translating it cut to {limit} tokens" in caplog.text


class _FlushRecorder:
    """A binary stdout that notes how many lines had been written at each flush."""

    def __init__(self) -> None:
        self.data = b""
        self.flushed_at: list[int] = []

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)

    def flush(self) -> None:
        self.flushed_at.append(self.data.count(b"\n"))


def test_translate_flushes_after_every_chunk(
    run: Path, sources: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    from catsmt.decoding import text

    monkeypatch.setattr(text, "STREAM_CHUNK", 2)
    recorder = _FlushRecorder()
    monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(buffer=recorder, write=sys.stdout.write, flush=lambda: None))
    stdin = "".join(line + "\n" for line in sources[:5]).encode()
    code, _, err = catsmt(capsys, monkeypatch, translate_args(run, "--beam", "1"), stdin)
    assert code == 0, err
    assert recorder.data.count(b"\n") == 5
    assert recorder.flushed_at[:2] == [2, 4] and recorder.flushed_at[-1] == 5


def test_missing_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no-such-run"
    code, _, err = catsmt(capsys, monkeypatch, translate_args(missing), b"x\n")
    assert code == 1 and f"catsmt: error: {missing}: no such run folder or checkpoint file" in err
    code, _, err = catsmt(capsys, monkeypatch, ["evaluate", str(missing)])
    assert code == 1 and "no such run folder" in err


def test_evaluate_prints_a_table_and_writes_json(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out_file = tmp_path / "eval" / "quick.json"
    args = ["evaluate", str(run), "--beam", "1", "--out", str(out_file), "--langs", "synb,syna",
            "--max-sentences", "5", "--device", "cpu", "--threads", "1"]
    code, out, err = catsmt(capsys, monkeypatch, args)
    assert code == 0, err
    result = json.loads(out_file.read_text())
    assert result["beam"] == 1 and set(result["langs"]) == {"syna", "synb"}
    assert result["langs"]["synb"]["n"] == 5
    assert (tmp_path / "eval" / "hyps" / "test.synb.hyp").exists()
    lines = out.splitlines()
    assert lines[1].split() == ["Method", "syna", "synb", "All", "Lo"]
    assert lines[2].split()[0] == run.name
    assert f"{result['langs']['syna']['bleu']:.1f}" in lines[2]
    assert "BLEU on test" in out and "target tokens/s" in out and f"wrote {out_file}" in out


def test_evaluate_out_through_a_symbolic_link_writes_the_link_target(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere" / "scores.json"
    target.parent.mkdir()
    target.write_text("old scores\n")
    link = tmp_path / "eval" / "quick.json"
    link.parent.mkdir()
    link.symlink_to(target)
    args = ["evaluate", str(run), "--beam", "1", "--out", str(link), "--langs", "synb",
            "--max-sentences", "3", "--device", "cpu", "--threads", "1"]
    code, _, err = catsmt(capsys, monkeypatch, args)
    assert code == 0, err
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert json.loads(target.read_text())["langs"]["synb"]["n"] == 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["scores.json"]  # no temporary file left


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--average-last", "9"], "has 3 step checkpoints"),
        (["--checkpoint", "nope.pt"], "no checkpoint"),
        (["--langs", "syna,xx"], "unknown language 'xx'; tasks: syna, synb"),
        (["--beam", "0"], "beam must be >= 1"),
    ],
)
def test_evaluate_bad_options(
    run: Path, tmp_path: Path, extra: list[str], message: str,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ["evaluate", str(run), "--out", str(tmp_path / "x.json"), "--device", "cpu", *extra]
    code, _, err = catsmt(capsys, monkeypatch, args)
    assert code == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.json").exists()


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("translate", "evaluate", "train", "data"):
        assert command in out


def test_real_process_smoke() -> None:
    """``python -m catsmt data list`` in a real process (one start: importing torch is slow)."""
    listing = subprocess.run(
        [sys.executable, "-m", "catsmt", "data", "list"], capture_output=True, text=True, timeout=180
    )
    assert listing.returncode == 0, listing.stderr
    assert "synthetic" in listing.stdout


def test_demo_runs_end_to_end_on_synthetic_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's main job, shortened: ``catsmt demo`` builds the data, trains every method
    with the same budget, evaluates and writes the report (about 20 s)."""
    out = tmp_path / "demo"
    code, stdout, stderr = catsmt(
        capsys, monkeypatch,
        ["demo", "--data", "synthetic", "--max-steps", "5", "--eval-sentences", "5", "--out", str(out)],
    )
    assert code == 0, stderr
    report = (out / "report.md").read_text()
    for method in ("T=1", "T=inf", "CATS"):
        assert method in report
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert len(runs) == 3 and all(len(r["scores"]["langs"]) == 4 for r in runs)
    assert all(r["steps"] == 5 and r["stop_reason"] == "max_steps" for r in runs)  # equal updates, no time cap
    assert "T=∞ against T=1: low-resource chrF" in stdout and "CATS: low" in stdout  # the verdict
    assert (out / "report.html").is_file()


def test_methods_lists_every_method_with_whole_sentences(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from catsmt.weighting import WEIGHTINGS

    code, stdout, _ = catsmt(capsys, monkeypatch, ["methods"])
    assert code == 0
    heads = [line for line in stdout.splitlines() if not line.startswith(" ")]
    assert [h.split(":", 1)[0] for h in heads] == list(WEIGHTINGS)
    assert all(h.rstrip().endswith((".", ")")) for h in heads), heads  # no sentence cut at a line break
    assert "    mode = 'projected'" in stdout and "    lambda_max = None" in stdout
