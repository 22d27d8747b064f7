"""`catsmt compare` end to end on synthetic data with two methods and tiny budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from catsmt.cli import main
from catsmt.evaluation.significance import sacrebleu_paired_bs
from catsmt.report.compare import compare

OVERRIDES: list[str] = []


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from catsmt.data.recipes import build

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("compare")
    build("synthetic", base / "data", sizes=[300, 300, 60, 60], valid=16, test=24, low_threshold=100)
    overrides = [
        f"data.dir={base / 'data'}", "data.vocab_size=200", "data.max_tokens=512", "model.layers=1",
        "model.dim=32", "model.ffn_dim=64", "train.max_steps=12", "train.valid_every=6", "train.device=cpu",
        "train.threads=1", "train.progress=false", "train.tensorboard=false", "train.warmup_steps=5",
        "train.log_every=3", "weighting.update_every=[[0,3]]",
    ]
    out = base / "report"
    OVERRIDES[:] = overrides[:-1]
    compare(None, ["t1", "cats"], [1], out, OVERRIDES, split="test", command="test")
    return out


def test_report_files_exist(report: Path) -> None:
    for name in ("results.csv", "results.json", "report.md", "report.html", "compare.json",
                 "figures/valid_nll.png"):
        assert (report / name).stat().st_size > 0, name
    md = (report / "report.md").read_text()
    assert "| Method |" in md and "CATS" in md and "T=1" in md
    html = (report / "report.html").read_text()
    assert "<table" in html and "data:image/png;base64," in html


def test_results_have_every_method_and_language(report: Path) -> None:
    rows = json.loads((report / "results.json").read_text())["rows"]
    assert {(r["method"], r["lang"]) for r in rows} == {(m, lang) for m in ("t1", "cats") for lang in ("syna", "synb", "sync", "synd")}
    assert all(r["valid_nll"] is not None for r in rows)


def test_significance_agrees_with_sacrebleu(report: Path) -> None:
    from catsmt.report.compare import RunRecord
    from catsmt.report.render import _refs_and_hyps, significance_marks

    runs = json.loads((report / "results.json").read_text())["runs"]
    records = [RunRecord(r["method"], r["seed"], Path(r["run_dir"]), r["scores"], r["valid_nll"], r["summary"]) for r in runs]
    baseline, marks = significance_marks(records, "bleu", "test")
    assert baseline == "t1"
    refs, base = _refs_and_hyps(records[0], "test")
    _, cats = _refs_and_hyps(records[1], "test")
    for lang in refs:
        _, _, p = sacrebleu_paired_bs(cats[lang], base[lang], refs[lang], "bleu", 1000, 12345)
        assert marks["CATS"][lang]["p"] == pytest.approx(p)


def test_finished_runs_are_reused(report: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO)
    before = (report / "runs" / "t1-s1" / "checkpoints" / "last.pt").stat().st_mtime_ns
    runs = json.loads((report / "results.json").read_text())["runs"]
    cfg = runs[0]["run_dir"]
    assert Path(cfg).exists()
    # the same comparison again: nothing retrains
    from catsmt.decoding.config import DecodeConfig
    from catsmt.report.compare import train_and_evaluate

    train_and_evaluate(None, OVERRIDES, "t1", 1, report, DecodeConfig(), "test")
    assert (report / "runs" / "t1-s1" / "checkpoints" / "last.pt").stat().st_mtime_ns == before
    assert "reusing finished run" in caplog.text


def test_results_record_updates_and_stop_reason(report: Path) -> None:
    for run in json.loads((report / "results.json").read_text())["runs"]:
        assert run["steps"] == 12 and run["stop_reason"] == "max_steps"
        assert run["target_tokens"] > 0 and run["train_seconds"] > 0
    md = (report / "report.md").read_text()
    assert "## Per seed" in md and "## Runs" in md and "max_steps" in md and "## Verdict" in md and "## CATS: what α did" in md
    assert "chrF signature: nrefs:1|case:mixed|eff:yes|nc:6" in md and "BLEU signature: nrefs:1|case:mixed|eff:no|tok:13a" in md
    assert (report / "figures" / "pareto_chrf.png").stat().st_size > 0
    assert (report / "figures" / "multipliers_cats.png").stat().st_size > 0


def test_a_changed_budget_trains_again_and_keeps_the_old_run(report: Path, tmp_path: Path) -> None:
    import shutil

    from catsmt.decoding.config import DecodeConfig
    from catsmt.report.compare import train_and_evaluate

    shutil.copytree(report / "runs" / "t1-s1", tmp_path / "runs" / "t1-s1")
    record = train_and_evaluate(None, [*OVERRIDES, "train.max_steps=6"], "t1", 1, tmp_path, DecodeConfig(beam=1), "test")
    assert record.summary["steps"] == 6
    old = json.loads((tmp_path / "runs" / "t1-s1.superseded-1" / "summary.json").read_text())
    assert old["steps"] == 12  # moved aside, not lost


def test_parallel_jobs_give_the_same_results_as_one_at_a_time(report: Path, tmp_path: Path) -> None:
    out = tmp_path / "parallel"
    compare(None, ["t1", "cats"], [1], out, OVERRIDES, split="test", command="test", jobs=2)
    seq = {(r["method"], r["lang"]): r for r in json.loads((report / "results.json").read_text())["rows"]}
    par = {(r["method"], r["lang"]): r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert seq.keys() == par.keys()
    for key, row in seq.items():
        assert (par[key]["bleu"], par[key]["chrf"], par[key]["valid_nll"]) == (row["bleu"], row["chrf"], row["valid_nll"])


def test_cli_rejects_unknown_methods(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "cfg.yaml", "--methods", "t1,catz", "--out", str(tmp_path)]) == 1
    assert "catz" in capsys.readouterr().err


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"split": "train"}, "split must be one of valid, test (held-out data), got 'train'"),
    ({"methods": ["t1", "catz"]}, "unknown method 'catz'"),
    ({"jobs": 0}, "jobs must be >= 1, got 0"),
])
def test_refused_requests_leave_no_report_folder(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    out = tmp_path / "report"
    args: dict[str, object] = {"methods": ["t1"], **kwargs}
    with pytest.raises(ValueError) as e:
        compare(None, args.pop("methods"), [1], out, ["train.device=cpu"], **args)  # type: ignore[arg-type]
    assert message in str(e.value)
    assert not out.exists()


def test_report_only_trains_nothing_and_leaves_out_unfinished_runs(report: Path, caplog: pytest.LogCaptureFixture) -> None:
    result = compare(None, ["t1", "cats", "pcgrad"], [1, 2], report, OVERRIDES, split="test", command="test", report_only=True)
    assert [(r.method, r.seed) for r in result.records] == [("t1", 1), ("cats", 1)]
    assert not (report / "runs" / "pcgrad-s1").exists()
    assert "no finished run of pcgrad seed 1" in caplog.text


def test_method_variants_set_hyperparameters_and_count_as_the_proposed_method() -> None:
    from catsmt.report.compare import is_proposed, method_label, parse_methods, run_config

    assert parse_methods("t1,cats+alpha_lr=0.2+temperature=5") == ["t1", "cats+alpha_lr=0.2+temperature=5"]
    assert method_label("cats+alpha_lr=0.2") == "CATS (alpha_lr=0.2)"
    assert is_proposed("cats+alpha_lr=0.2") and not is_proposed("t1")
    cfg = run_config(None, [], "cats+alpha_lr=0.2+temperature=5", 1, Path("unused"))
    assert (cfg.weighting.params.alpha_lr, cfg.weighting.params.temperature) == (0.2, 5.0)
    with pytest.raises(ValueError, match="NAME\\+key=value"):
        parse_methods("cats+alpha")
    with pytest.raises(ValueError, match="catz"):
        parse_methods("catz+alpha_lr=1")


@pytest.mark.parametrize(("spec", "label", "params"), [
    ("famo", "FAMO", {"logit_lr": 0.025}),
    ("dro+rho=0.1", "DRO (rho=0.1)", {"rho": 0.1}),
    ("unimax+epochs=2", "UniMax (epochs=2)", {"epochs": 2.0}),
    ("torchjd+aggregator=upgrad", "torchjd (aggregator=upgrad)", {"aggregator": "upgrad"}),
])
def test_the_newer_methods_are_compared_under_their_labels(spec: str, label: str, params: dict[str, object]) -> None:
    from catsmt.report.compare import method_label, parse_methods, run_config

    assert parse_methods(f"t1,{spec}") == ["t1", spec]
    assert method_label(spec) == label
    cfg = run_config(None, [], spec, 1, Path("unused"))
    assert cfg.weighting.method == spec.split("+")[0]
    assert {k: getattr(cfg.weighting.params, k) for k in params} == params


def test_a_famo_run_is_reported_with_its_weights_figure(report: Path, tmp_path: Path) -> None:
    out = tmp_path / "famo"
    result = compare(None, ["famo"], [1], out, OVERRIDES, split="test", command="test")
    assert [r.method for r in result.records] == ["famo"]
    assert "| FAMO |" in (out / "report.md").read_text()
    assert (out / "figures" / "weights_famo.png").exists()  # famo_z changes over the run


def test_the_parallel_progress_bar_reads_each_runs_last_logged_update(tmp_path: Path) -> None:
    """The bar's count is the sum of every run's newest logged update, capped at its budget,
    read from a metrics.jsonl that may end in a torn line."""
    import concurrent.futures

    from catsmt.report.compare import _last_step, _watch

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "metrics.jsonl").write_text('{"step": 3, "lang": "all"}\n{"step": 7, "lang": "x"}\n{"st')
    (b / "metrics.jsonl").write_text("".join(f'{{"step": {i}, "pad": "{"x" * 300}"}}\n' for i in range(1, 60)))
    assert _last_step(a) == 7 and _last_step(b) == 59 and _last_step(tmp_path / "none") == 0
    finished: concurrent.futures.Future[None] = concurrent.futures.Future()
    finished.set_result(None)
    _watch([finished], [(a, 10), (b, 40)], poll=0.01)  # returns once the runs are done
