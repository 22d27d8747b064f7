"""Curvature and gradient similarity tracked during training land in metrics.jsonl."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from catsmt.run.checkpoint import load_checkpoint
from catsmt.run.metrics import read_metrics
from catsmt.training.trainer import train

from ..training.conftest import tiny_config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from catsmt.data.recipes import build

    out = tmp_path_factory.mktemp("syn")
    build("synthetic", out, sizes=[300, 300, 60, 60], valid=20, test=20, low_threshold=100)
    return out


def test_measure_gives_every_language_and_pair(data_dir: Path) -> None:
    from catsmt.analysis.tracking import ProbeBatches, measure
    from catsmt.config import load_config
    from catsmt.data import prepare_data
    from catsmt.model import build_model

    torch.set_num_threads(1)
    cfg = load_config(None, [f"data.dir={data_dir}", "data.vocab_size=200", "model.dim=32", "model.ffn_dim=64", "model.layers=1"])
    data = prepare_data(cfg.data)
    model = build_model(cfg.model, data.vocab.size, data.vocab.pad_id)
    model.train()
    events = measure(model, ProbeBatches.from_data(data, data.langs, max_sentences=8), data.groups, 0, torch.device("cpu"), iters=3)
    assert model.training and model.attention == "sdpa"  # restored
    kinds = {e["event"] for e in events}
    assert kinds == {"curvature", "grad_norm", "gradsim", "gradsim_pairing"}
    pairings = {e["pairing"] for e in events if e["event"] == "gradsim_pairing"}
    assert pairings == {"HiHi", "LoLo", "HiLo"}


@pytest.mark.slow
def test_analysis_events_are_logged_and_leave_training_unchanged(data_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    common = ["train.max_steps=6", "train.valid_every=6", "model.layernorm_affine=false"]
    train(tiny_config(data_dir, tmp_path / "plain", *common))
    train(tiny_config(data_dir, tmp_path / "tracked", *common, "train.analysis_every=3"))
    events = list(read_metrics(tmp_path / "tracked" / "metrics.jsonl"))
    curv = [e for e in events if e["event"] == "curvature"]
    assert {e["step"] for e in curv} == {3, 6}
    assert {e["lang"] for e in curv} == {"syna", "synb", "sync", "synd"}
    assert all(math.isfinite(e["lambda_max"]) for e in curv)
    sims = [e for e in events if e["event"] == "gradsim" and e["group"] == "all"]
    assert len(sims) == 2 * 6  # 6 language pairs at 2 steps
    assert all(-1.0 <= e["cos"] <= 1.0 and 0.0 <= e["mag"] <= 1.0 for e in sims)
    # measuring must not disturb the run: same parameters as without tracking
    a = load_checkpoint(tmp_path / "plain" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "tracked" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_probes_are_fixed_training_samples_and_events_say_so(data_dir: Path) -> None:
    from catsmt.analysis.tracking import ProbeBatches, measure
    from catsmt.config import load_config
    from catsmt.data import prepare_data
    from catsmt.model import build_model

    torch.set_num_threads(1)
    cfg = load_config(None, [f"data.dir={data_dir}", "data.vocab_size=200", "model.dim=32", "model.ffn_dim=64", "model.layers=1"])
    data = prepare_data(cfg.data)
    train_p = ProbeBatches.from_data(data, data.langs, max_sentences=8, split="train")
    valid_p = ProbeBatches.from_data(data, data.langs, max_sentences=8)
    for lang in data.langs:
        expected = data.sample_batch("train", lang, 1024, 8, seed=0)
        assert torch.equal(train_p.parts[lang].src, expected.src)
        refs = set(data.raw("train", lang)[1])
        assert all(data.vocab.decode(row) in refs for row in train_p.parts[lang].tgt_out)
    model = build_model(cfg.model, data.vocab.size, data.vocab.pad_id)
    events = measure(model, train_p, data.groups, 0, torch.device("cpu"), what=("curvature",), iters=2)
    assert events and {e["split"] for e in events} == {"train"}
    assert {e["split"] for e in measure(model, valid_p, data.groups, 0, torch.device("cpu"), what=("gradsim",))} == {"valid"}
    with pytest.raises(ValueError, match="valid or train, got 'test'"):
        ProbeBatches.from_data(data, data.langs, split="test")


def test_training_logs_the_configured_split_and_analyze_merges_only_that_split(data_dir: Path, tmp_path: Path) -> None:
    from catsmt.analysis.run import analyze_run

    torch.set_num_threads(1)
    run = tmp_path / "run"
    train(tiny_config(data_dir, run, "train.max_steps=4", "train.valid_every=4", "train.analysis_every=2",
                      "train.analysis_split=train", "train.analysis_what=[curvature,selfsim]", "model.dim=32", "model.ffn_dim=64"))
    events = list(read_metrics(run / "metrics.jsonl"))
    curv = [e for e in events if e["event"] == "curvature"]
    assert {(e["step"], e["split"]) for e in curv} == {(2, "train"), (4, "train")}
    assert {(e["step"], e["lang"]) for e in events if e["event"] == "gradsim_self"} == {
        (s, lang) for s in (2, 4) for lang in ("syna", "synb", "sync", "synd")}

    def analysed(split: str) -> set[tuple[int, str]]:
        analyze_run(run, what=["curvature"], langs=["syna"], iters=2, split=split)
        return {(e["step"], e["split"]) for e in read_metrics(run / "analysis" / "events.jsonl") if e["event"] == "curvature"}

    # the checkpoint (step 4) is measured anew; step 2 comes from training, on its split only
    assert analysed("train") == {(2, "train"), (4, "train")}
    assert analysed("valid") == {(4, "valid")}
    # measuring only gradients keeps the tracked curvature of the checkpoint's step
    analyze_run(run, what=["selfsim"], langs=["syna"], split="train")
    kept = list(read_metrics(run / "analysis" / "events.jsonl"))
    assert {e["step"] for e in kept if e["event"] == "curvature"} == {2, 4}
    assert any(e["event"] == "gradsim_self" and e["step"] == 4 for e in kept)
    with pytest.raises(ValueError, match="analysis_split must be valid or train, got 'dev'"):
        tiny_config(data_dir, tmp_path / "bad", "train.analysis_split=dev")


def test_selfsim_is_the_cosine_of_one_language_on_its_two_disjoint_batches(data_dir: Path) -> None:
    from catsmt.analysis.tracking import ProbeBatches, measure
    from catsmt.config import load_config
    from catsmt.data import prepare_data
    from catsmt.model import build_model
    from catsmt.model.loss import label_smoothed_loss

    torch.set_num_threads(1)
    cfg = load_config(None, [f"data.dir={data_dir}", "data.vocab_size=200", "model.dim=32", "model.ffn_dim=64", "model.layers=1"])
    data = prepare_data(cfg.data)
    torch.manual_seed(0)
    model = build_model(cfg.model, data.vocab.size, data.vocab.pad_id)
    probes = ProbeBatches.from_data(data, data.langs, max_sentences=8, split="train", twins=True)
    assert probes.twins is not None and set(probes.twins) == set(data.langs)
    for lang in data.langs:  # the first two disjoint random batches of the training pairs
        first, second = data.sample_batches("train", lang, 1024, 8, seed=0, count=2)
        assert torch.equal(probes.parts[lang].src, first.src) and torch.equal(probes.twins[lang].src, second.src)
    events = [e for e in measure(model, probes, data.groups, 7, torch.device("cpu"), what=("selfsim",))
              if e["event"] == "gradsim_self"]
    assert {e["lang"] for e in events} == set(data.langs) and all(e["step"] == 7 for e in events)

    def grad(part) -> torch.Tensor:  # written out here: eval mode, mean token NLL, no smoothing
        model.eval()
        model.zero_grad()
        total, _, n = label_smoothed_loss(model(*part.inputs), part.tgt_out, part.pad_id, 0.0)
        (total / n).backward()
        g = torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None]).double()
        model.zero_grad()
        return g

    for e in events:
        a, b = grad(probes.parts[e["lang"]]), grad(probes.twins[e["lang"]])
        assert e["cos"] == pytest.approx(float(a @ b / (a.norm() * b.norm())), abs=1e-6)
        assert e["mag"] == pytest.approx(float(2 * a.norm() * b.norm() / (a.norm() ** 2 + b.norm() ** 2)), abs=1e-6)
    # without twins, or without selfsim, nothing is measured
    plain = ProbeBatches.from_data(data, data.langs, max_sentences=8, split="train")
    assert not [e for e in measure(model, plain, data.groups, 0, torch.device("cpu"), what=("selfsim",))
                if e["event"] == "gradsim_self"]
    with pytest.raises(ValueError, match="analysis_what takes curvature, gradsim and selfsim, got hessian"):
        tiny_config(data_dir, Path("/nonexistent"), "train.analysis_what=[hessian]")
