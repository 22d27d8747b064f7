"""The benchmark suite: a CI-sized run through the CLI, and the pieces it is built from."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from catsmt.bench import (
    AMORTISED_M,
    EOS_ID,
    FIRST_TAG,
    PAD_ID,
    BenchConfig,
    EndsAtSourceLength,
    Row,
    fixed_batches,
    synthetic_tasks,
)
from catsmt.bench.cases import Methods, steps_of, train_case, train_cases
from catsmt.bench.data import SyntheticData
from catsmt.bench.result import amortised_rows
from catsmt.cli import main
from catsmt.data.batch import Batch
from catsmt.data.config import DataConfig
from catsmt.model import ModelConfig, build_model
from catsmt.training.config import TrainConfig
from catsmt.weighting import WEIGHTINGS, RunBudget

try:
    import torchjd  # noqa: F401

    HAS_TORCHJD = True
except ImportError:
    HAS_TORCHJD = False

#: One row per registered method (plain for temperature; CATS between and on its meta
#: updates, amortised), in the registry's order, torchjd where it is installed.
METHOD_ROWS = [
    "cats", "cats_meta", *(f"cats_m{m}" for m in AMORTISED_M),
    "dro", "famo", "gradnorm", "gradvac", "mgda", "multidds", "pcgrad", *(["torchjd"] if HAS_TORCHJD else []), "unimax",
]
EXPECTED_ROWS = ["data", "plain", *METHOD_ROWS, "hvp", "greedy", "beam3"]


def test_cli_smoke_run_produces_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main([
        "bench", "--preset", "tiny", "--vocab", "300", "--max-tokens", "256", "--langs-per-batch", "2",
        "--repeats", "1", "--warmup", "0", "--threads", "1", "--decode-sentences", "6",
        "--decode-repeats", "1", "--beam", "3", "--out", str(out),
    ])
    assert code == 0
    table = capsys.readouterr().out
    for label in ("CATS update step", "FAMO step", "DRO step", "UniMax step", "MultiDDS update step (+ dev gradient)"):
        assert label in table
    assert "targets:" in table
    result = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    rows = {r["name"]: r for r in result["rows"]}
    assert list(rows) == EXPECTED_ROWS
    assert list(result["skipped"]) == ([] if HAS_TORCHJD else ["torchjd"])  # the reason names the extra
    assert result["budget"]["updates"] > 0 and result["budget"]["examples"] > 0  # UniMax allocated a real budget
    for name in ("dro", "famo", "unimax", *(["torchjd"] if HAS_TORCHJD else [])):
        assert rows[name]["extra"]["method"] == name and rows[name]["extra"]["params"], name
    for name, r in rows.items():
        assert r["seconds"] > 0, name
        if r["group"] != "decode":
            assert r["ratio"] > 0 and r["throughput_ratio"] > 0, name
        if r["group"] in ("train", "amortised", "decode"):
            assert r["tokens_per_s"] > 0, name
        if r["group"] != "amortised":
            assert r["peak_mb"] > 0 and r["peak_delta_mb"] >= 0, name
    assert rows["plain"]["ratio"] == 1.0
    env = result["environment"]
    assert env["device_name"] and env["torch"] and env["command"].startswith("catsmt bench")
    assert {t["row"] for t in result["targets"]} == {"cats", "cats_meta", "cats_m10"}


def test_synthetic_tasks_have_the_binarizer_layout() -> None:
    tasks = synthetic_tasks(3, vocab=500, pairs=200, max_len=40, seed=0)
    assert sorted(tasks) == ["l0", "l1", "l2"]
    for i, lang in enumerate(sorted(tasks)):
        task = tasks[lang]
        assert len(task) == 200 and task.tgt_tag == FIRST_TAG + i
        assert np.median(task.src.lengths - 2) == pytest.approx(20, abs=3)
        for j in range(0, 200, 37):
            src, tgt = task.src[j], task.tgt[j]
            assert src[0] == task.tgt_tag and src[-1] == EOS_ID and len(src) <= 40 and len(tgt) >= 1
            for pieces in (src[1:-1], tgt):
                assert (pieces >= FIRST_TAG + 3).all() and (pieces < 500).all()


def test_the_decoding_model_ends_each_hypothesis_at_its_source_length() -> None:
    from catsmt.decoding import DecodeConfig, translate_ids
    from catsmt.model import ModelConfig

    model = EndsAtSourceLength(ModelConfig.from_mapping({"preset": "tiny", "layers": 1, "dim": 32, "ffn_dim": 64}), 100, PAD_ID)
    sources = [[FIRST_TAG, *range(10, 10 + n), EOS_ID] for n in (1, 4, 9, 2)]
    for beam in (1, 3):
        out = translate_ids(model, sources, [FIRST_TAG] * 4, DecodeConfig(beam=beam), EOS_ID, PAD_ID, "cpu")
        assert [len(h) for h in out] == [1, 4, 9, 2]
        assert all(EOS_ID not in h for h in out)


def test_fixed_batches_hold_k_distinct_languages_within_the_budget() -> None:
    cfg = BenchConfig(vocab=500, max_tokens=512, langs_per_batch=2, langs=3)
    tasks = synthetic_tasks(3, vocab=500, pairs=300, max_len=64, seed=1)
    batches = fixed_batches(tasks, cfg, 3)
    assert [b.langs for b in batches] == [["l0", "l1"], ["l0", "l2"], ["l1", "l2"]]
    for b in batches:
        for p in b.parts:
            assert p.src.numel() <= cfg.slot_tokens and p.tgt_out.numel() <= cfg.slot_tokens


def test_amortised_cats_combines_meta_and_plain_cats_steps() -> None:
    rows = [
        Row("plain", "", "train", seconds=1.0, ratio=1.0, tokens_per_s=1000.0),
        Row("cats", "", "train", seconds=1.0, ratio=1.0),
        Row("cats_meta", "", "train", seconds=2.0, ratio=2.0),
    ]
    m10 = amortised_rows(rows, "cats", "CATS")[0]
    assert m10.name == "cats_m10"
    assert m10.seconds == pytest.approx(1.1) and m10.ratio == pytest.approx(1.1)
    assert m10.throughput_ratio == pytest.approx(1 / 1.1)
    assert m10.tokens_per_s == pytest.approx(1000 / 1.1)
    assert amortised_rows(rows[:2], "cats", "CATS") == []  # no meta-update row: nothing to amortise


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("preset", "huge", "valid presets"), ("langs", 1, "langs_per_batch"), ("max_tokens", 40, "max_tokens"),
     ("precision", "fp8", "precision")],
)
def test_bad_config_names_the_field(field: str, value: object, message: str) -> None:
    cfg = BenchConfig(langs_per_batch=2, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        cfg.validate()


# -- the training cases: derived from the registry, built and stepped as the trainer does --

SMALL = BenchConfig(vocab=300, max_tokens=256, langs_per_batch=2, threads=1, device="cpu")


@pytest.fixture(scope="module")
def small() -> tuple[Methods, list[Batch]]:
    data = SyntheticData.build(SMALL, max_len=64)
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_mapping({"preset": "tiny", "layers": 1, "dim": 32, "ffn_dim": 64}), SMALL.vocab, PAD_ID)
    return Methods(SMALL, data, model, torch.device("cpu")), fixed_batches(data.splits["train"], SMALL, 2)


def test_every_registered_method_has_a_training_row(small: tuple[Methods, list[Batch]]) -> None:
    methods, _ = small
    available = [name for name in WEIGHTINGS if name != "torchjd" or HAS_TORCHJD]
    cases = {name: train_cases(name, methods.build(name)) for name in available}
    assert {c.name for cs in cases.values() for c in cs} == {*METHOD_ROWS, "plain"} - {f"cats_m{m}" for m in AMORTISED_M}
    assert [(c.name, c.task_grads) for c in cases["cats"]] == [("cats", False), ("cats_meta", True)]
    for name in ("dro", "famo", "unimax", "temperature"):
        assert [c.task_grads for c in cases[name]] == [False], name  # one weighted loss, one backward
    for name in ("pcgrad", "gradvac", "mgda", "gradnorm", "multidds", *(["torchjd"] if HAS_TORCHJD else [])):
        assert [c.task_grads for c in cases[name]] == [True], name
    assert SMALL.method_names() == ["temperature", *(n for n in WEIGHTINGS if n != "temperature")]


def test_a_method_registered_later_is_timed_too() -> None:
    from catsmt.weighting import Weighting, register
    from catsmt.weighting.temperature import TemperatureParams

    class Plugged(Weighting):
        Params = TemperatureParams
        label = "Plugged"

    register("plugged", Plugged)
    try:
        assert "plugged" in BenchConfig().method_names()
        [case] = train_cases("plugged", Plugged(TemperatureParams(), ["l0"], {"l0": 1}))
        assert (case.name, case.label, case.task_grads) == ("plugged", "Plugged step", False)
    finally:
        del WEIGHTINGS["plugged"]


def test_steps_follow_each_method_schedule(small: tuple[Methods, list[Batch]]) -> None:
    methods, _ = small
    cats, multidds = methods.build("cats"), methods.build("multidds")
    assert list(itertools.islice(steps_of(cats, True), 3)) == [0, 10, 20]
    assert list(itertools.islice(steps_of(cats, False), 10)) == [*range(1, 10), 11]
    assert list(itertools.islice(steps_of(multidds, True), 3)) == [0, 100, 200]


def test_methods_get_the_runs_budget_and_a_dev_gradient_only_when_they_need_one(small: tuple[Methods, list[Batch]]) -> None:
    methods, _ = small
    unimax = methods.build("unimax")
    assert unimax.budget == RunBudget(
        updates=TrainConfig().max_steps,
        examples=int(TrainConfig().max_steps * SMALL.max_tokens / methods.data.mean_pair_cost("train")),
    )
    assert sum(unimax.allocation) == unimax.budget.examples  # type: ignore[attr-defined]
    for name in WEIGHTINGS:
        if name == "torchjd" and not HAS_TORCHJD:
            continue
        method = methods.build(name)
        assert (methods.context(method).dev_grad is not None) == method.needs_dev_grad, name
    grad = methods.context(methods.build("multidds")).dev_grad
    assert grad is not None and methods.model.training
    g = grad()
    assert g.shape == (sum(p.numel() for p in methods.ctx.params),) and bool(g.isfinite().all())
    assert methods.model.training  # eval mode only while the dev gradient is computed


def test_methods_that_observe_losses_are_told_them_by_the_step(small: tuple[Methods, list[Batch]]) -> None:
    methods, batches = small
    non_finite: dict[str, int] = {}
    famo, dro = methods.build("famo"), methods.build("dro")
    for name, method in (("famo", famo), ("dro", dro)):
        [case] = train_cases(name, method)
        run = train_case(methods.context(method), method, case, batches, non_finite)
        for _ in range(3):
            run()
    assert non_finite == {}
    assert famo.logit_steps == 2 and not bool(famo.last_loss.isnan().any())  # type: ignore[attr-defined]
    assert not bool(dro.loss_ema.isnan().any())  # type: ignore[attr-defined]


def test_methods_option_times_those_methods_and_plain(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code = main([
        "bench", "--preset", "tiny", "--vocab", "300", "--max-tokens", "256", "--langs-per-batch", "2",
        "--repeats", "1", "--warmup", "0", "--threads", "1", "--decode-sentences", "0",
        "--methods", "famo,dro", "--out", str(out),
    ])
    assert code == 0
    result = json.loads(out.read_text())
    assert [r["name"] for r in result["rows"]] == ["data", "plain", "dro", "famo", "hvp"]
    assert result["targets"] == []  # no CATS row, no CATS target
    assert "--methods famo,dro" in result["environment"]["command"]
    with pytest.raises(ValueError, match="unknown method.* famoo; valid: all, or some of cats, dro, famo"):
        BenchConfig(methods="famoo").validate()


@pytest.mark.parametrize(("name", "section"), [
    ("device", TrainConfig), ("precision", TrainConfig), ("threads", TrainConfig), ("loss_chunk", TrainConfig),
    ("max_tokens", DataConfig), ("langs_per_batch", DataConfig), ("preset", ModelConfig),
])
def test_fields_shared_with_a_run_take_the_runs_defaults(name: str, section: type) -> None:
    assert getattr(BenchConfig(), name) == getattr(section(), name)
    if section is TrainConfig:
        [bench_field] = [f for f in dataclasses.fields(BenchConfig) if f.name == name]
        [run_field] = [f for f in dataclasses.fields(section) if f.name == name]
        assert bench_field.metadata["help"] == run_field.metadata["help"]
