"""``train.compile``: the training forward under ``torch.compile``, everything else unchanged.

The default tests compile with dynamo's ``eager`` backend: graph capture without code
generation, a few seconds. The ``-m slow`` ones compile the backward too: ``aot_eager``
(20-30 s on 2 cores), inductor (C++ code generation on the CPU; a minute or more from a cold
cache), and a DDP run of two gloo processes (about a minute).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from catsmt.config import ConfigError, load_config
from catsmt.model import build_model
from catsmt.run.checkpoint import load_checkpoint
from catsmt.run.metrics import read_metrics
from catsmt.training.trainer import train

from .conftest import tiny_config

# Both paths of the step: CATS meta updates (per-language task gradients) every 3rd update,
# weighted losses in between. No dropout: inductor draws its masks from its own RNG.
BOTH_PATHS = ("weighting.method=cats", "weighting.update_every=[[0,3]]", "model.dropout=0")


def train_losses(run: Path) -> list[float]:
    events = read_metrics(run / "metrics.jsonl")
    return [e["loss"] for e in events if e["event"] == "train" and e["lang"] == "all"]


def checkpoint_model(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "last.pt")["model"]


@pytest.mark.parametrize("compile_first", [True, False])
def test_checkpoint_is_the_same_with_and_without_compile(synthetic_dir: Path, tmp_path: Path, compile_first: bool) -> None:
    """A compiled run saves the plain model's keys, and a run resumed with the other setting
    continues exactly as an uncompiled run straight through (``eager`` backend: same kernels)."""
    compiled = ("train.compile=true", "train.compile_backend=eager")
    first, second = (compiled, ()) if compile_first else ((), compiled)
    common = ("train.valid_every=4", "train.log_every=1")
    train(tiny_config(synthetic_dir, tmp_path / "straight", "train.max_steps=8", *common))
    train(tiny_config(synthetic_dir, tmp_path / "half", "train.max_steps=4", *common, *first))

    saved = checkpoint_model(tmp_path / "half")
    plain = build_model(tiny_config(synthetic_dir, tmp_path / "x").model, 200, 0).state_dict()  # keys only
    assert saved.keys() == plain.keys()
    assert not any(k.startswith("_orig_mod.") for k in saved)

    train(tiny_config(synthetic_dir, tmp_path / "half", "train.max_steps=8", *common, *second), resume=True)
    a, b = checkpoint_model(tmp_path / "straight"), checkpoint_model(tmp_path / "half")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert train_losses(tmp_path / "straight") == train_losses(tmp_path / "half")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_run_matches_eager_and_analysis_still_runs(synthetic_dir: Path, tmp_path: Path, backend: str) -> None:
    """The same run, compiled or not, logs the same losses on both paths of the step; and
    the curvature analysis at its end works, as it needs a double backward, which compiled
    graphs lack (``aot_eager`` compiles the backward as inductor does): it must use the
    uncompiled model."""
    common = ("train.max_steps=4", "train.log_every=1", *BOTH_PATHS)
    train(tiny_config(synthetic_dir, tmp_path / "eager", *common))
    train(tiny_config(
        synthetic_dir, tmp_path / "compiled", *common, "train.compile=true", f"train.compile_backend={backend}",
        "train.analysis_every=4", "train.analysis_what=[curvature]",
    ))
    eager, compiled = train_losses(tmp_path / "eager"), train_losses(tmp_path / "compiled")
    assert len(eager) == 4
    assert compiled == pytest.approx(eager, rel=1e-4)
    a, b = checkpoint_model(tmp_path / "eager"), checkpoint_model(tmp_path / "compiled")
    for k in a:
        if k.endswith("k_proj.bias"):  # its gradient is 0 up to rounding (softmax is shift-invariant), which Adam scales up to lr
            continue
        torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=1e-5, msg=k)
    curvature = [e for e in read_metrics(tmp_path / "compiled" / "metrics.jsonl") if e["event"] == "curvature"]
    assert curvature and all(math.isfinite(e["lambda_max"]) for e in curvature)


@pytest.mark.slow
def test_compiled_run_with_dropout_resumes_exactly(synthetic_dir: Path, tmp_path: Path) -> None:
    """Inductor draws dropout masks from its own generator, seeded from torch's, which the
    checkpoint restores: a compiled run stopped and resumed equals one run straight through."""
    common = ("train.compile=true", "train.valid_every=4", "model.dropout=0.1")
    train(tiny_config(synthetic_dir, tmp_path / "straight", "train.max_steps=8", *common))
    train(tiny_config(synthetic_dir, tmp_path / "half", "train.max_steps=4", *common))
    train(tiny_config(synthetic_dir, tmp_path / "half", "train.max_steps=8", *common), resume=True)
    a, b = checkpoint_model(tmp_path / "straight"), checkpoint_model(tmp_path / "half")
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_compiled_ddp_module_equals_eager_ddp(synthetic_dir: Path, tmp_path: Path) -> None:
    """Two gloo ranks with the DDP module compiled (``aot_eager``, about a minute): the ranks
    agree, ``no_sync`` still keeps DDP from all-reducing in meta updates, and the parameters
    equal those of the same run uncompiled."""
    from catsmt.config import save_config

    from .test_distributed import COMMON, torchrun

    records = {}
    for name, extra in [("eager", ()), ("compiled", ("train.compile=true", "train.compile_backend=aot_eager"))]:
        save_config(tiny_config(synthetic_dir, tmp_path / name, *COMMON, *extra), tmp_path / f"{name}.yaml")
        torchrun(2, ["train", str(tmp_path / f"{name}.yaml")], tmp_path / f"record-{name}", timeout=600)
        r0, r1 = (torch.load(tmp_path / f"record-{name}" / f"rank{r}.pt", weights_only=True) for r in range(2))
        assert [e["digest"] for e in r0] == [e["digest"] for e in r1], name
        records[name] = r0
    eager, compiled = records["eager"], records["compiled"]
    assert [(e["task_grads"], e["ddp_reduces"]) for e in compiled] == [(e["task_grads"], e["ddp_reduces"]) for e in eager]
    for a, b in zip(eager, compiled, strict=True):
        torch.testing.assert_close(b["params"], a["params"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.compile_mode=fast", "compile_mode must be one of default, reduce-overhead"),
        ("train.compile_backend=tvm", "compile_backend must be one of inductor, aot_eager, eager"),
        ("train.compile_backend=eager train.compile_mode=max-autotune", "needs compile_backend=inductor"),
    ],
)
def test_bad_compile_settings_name_the_valid_ones(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, override.split())
