"""The benchmark suite: a CI-sized run through the CLI, and the pieces it is built from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from catsmt.bench import (
    AMORTISED_M,
    EOS_ID,
    FIRST_TAG,
    PAD_ID,
    TRAIN_CASES,
    BenchConfig,
    EndsAtSourceLength,
    Row,
    _amortised_rows,
    fixed_batches,
    synthetic_tasks,
)
from catsmt.cli import main

EXPECTED_ROWS = [
    "data", "plain", "cats", "cats_meta", *(f"cats_m{m}" for m in AMORTISED_M),
    "pcgrad", "gradvac", "mgda", "gradnorm", "multidds", "hvp", "greedy", "beam3",
]


def test_cli_smoke_run_produces_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main([
        "bench", "--preset", "tiny", "--vocab", "300", "--max-tokens", "256", "--langs-per-batch", "2",
        "--repeats", "1", "--warmup", "0", "--threads", "1", "--decode-sentences", "6",
        "--decode-repeats", "1", "--beam", "3", "--out", str(out),
    ])
    assert code == 0
    table = capsys.readouterr().out
    assert "CATS meta-update step" in table and "targets:" in table
    result = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    rows = {r["name"]: r for r in result["rows"]}
    assert list(rows) == EXPECTED_ROWS
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
    m10 = _amortised_rows(rows)[0]
    assert m10.name == "cats_m10"
    assert m10.seconds == pytest.approx(1.1) and m10.ratio == pytest.approx(1.1)
    assert m10.throughput_ratio == pytest.approx(1 / 1.1)
    assert m10.tokens_per_s == pytest.approx(1000 / 1.1)


def test_every_training_case_names_a_registered_method() -> None:
    from catsmt.weighting import WEIGHTINGS

    assert {method for method, *_ in TRAIN_CASES.values()} <= set(WEIGHTINGS)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("preset", "huge", "valid presets"), ("langs", 1, "langs_per_batch"), ("max_tokens", 40, "max_tokens"),
     ("precision", "fp8", "precision")],
)
def test_bad_config_names_the_field(field: str, value: object, message: str) -> None:
    cfg = BenchConfig(langs_per_batch=2, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        cfg.validate()
