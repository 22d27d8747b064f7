"""The torchjd adapter: the same vector as the aggregator called directly on the same matrix,
and a clear error without the optional dependency."""

from __future__ import annotations

import importlib.util
import io
import sys
from collections.abc import Callable
from typing import Any

import pytest
import torch

from catsmt.weighting.base import TaskGradients
from catsmt.weighting.torchjd import TorchJD, TorchJDParams

LANGS = ["aze", "bel", "glg", "rus"]
SIZES = {"aze": 10, "bel": 20, "glg": 30, "rus": 40}
HAS_TORCHJD = importlib.util.find_spec("torchjd") is not None
needs_torchjd = pytest.mark.skipif(not HAS_TORCHJD, reason="torchjd is not installed (pip install 'catsmt[torchjd]')")


def make(**kw: object) -> TorchJD:
    return TorchJD(TorchJDParams(**kw), LANGS, SIZES)  # type: ignore[arg-type]


def batch(k: int, seed: int, dim: int = 40) -> TaskGradients:
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(k, dim, generator=gen)
    g[-1] -= 1.2 * g[0]  # a conflicting pair
    return TaskGradients(langs=LANGS[:k], losses=torch.ones(k), n_tokens=torch.ones(k), grads=g)


def direct(name: str) -> Callable[[int], Any]:
    """The aggregator as a user of torchjd would build it, for a (k, P) matrix."""
    from torchjd import aggregation as jd

    return {
        "upgrad": lambda k: jd.UPGrad(),
        "dualproj": lambda k: jd.DualProj(),
        "cagrad": lambda k: jd.CAGrad(c=0.5),
        "nashmtl": lambda k: jd.NashMTL(n_tasks=k, max_norm=1.0),
        "alignedmtl": lambda k: jd.AlignedMTL(),
        "imtlg": lambda k: jd.IMTLG(),
    }[name]


AGGREGATORS = ["upgrad", "dualproj", "cagrad", "nashmtl", "alignedmtl", "imtlg"]


@needs_torchjd
@pytest.mark.filterwarnings("ignore::UserWarning")  # cvxpy's note that NashMTL's problem is not DPP
@pytest.mark.parametrize("name", AGGREGATORS)
def test_combine_equals_the_aggregator_called_directly(name: str) -> None:
    m = make(aggregator=name)
    assert m.needs_task_grads(0) and m.needs_task_grads(17)
    for step, k in enumerate([2, 3, 4, 3]):
        tasks = batch(k, seed=step)
        expected = direct(name)(k)(tasks.grads.clone())
        out = m.combine(step, tasks)
        assert out.shape == (tasks.grads.shape[1],) and out.dtype == tasks.grads.dtype
        assert torch.allclose(out, expected, rtol=1e-5, atol=1e-6), (name, k)
        weights = m.log_values()
        assert set(weights) == {f"torchjd/{lang}" for lang in tasks.langs}
        w = torch.tensor([weights[f"torchjd/{lang}"] for lang in tasks.langs])
        assert torch.allclose(w @ tasks.grads, out, rtol=1e-4, atol=1e-5)  # the logged weights are the ones applied


@needs_torchjd
def test_names_are_forgiving_about_case_and_hyphens_and_unknown_ones_list_the_valid() -> None:
    tasks = batch(3, seed=1)
    assert torch.allclose(make(aggregator="Aligned-MTL").combine(0, tasks), make(aggregator="alignedmtl").combine(0, tasks))
    assert torch.allclose(make(aggregator="IMTL_G").combine(0, tasks), make(aggregator="imtlg").combine(0, tasks))


def test_unknown_aggregator_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown torchjd aggregator 'mgda'") as err:
        make(aggregator="mgda")
    for name in AGGREGATORS:
        assert name in str(err.value)


def test_without_torchjd_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in [m for m in sys.modules if m == "torchjd" or m.startswith("torchjd.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "torchjd", None)  # makes `import torchjd` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'catsmt\[torchjd\]'"):
        make()


@needs_torchjd
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["upgrad", "nashmtl"])
def test_state_round_trips_and_continues_identically(name: str) -> None:
    original = make(aggregator=name)
    for step in range(3):
        original.combine(step, batch(3, seed=step))
    buf = io.BytesIO()
    torch.save(original.state_dict(), buf)
    buf.seek(0)
    restored = make(aggregator=name)
    restored.load_state_dict(torch.load(buf, weights_only=True))
    for step in range(3, 6):
        tasks = batch(2 + step % 3, seed=step)
        assert torch.equal(original.combine(step, tasks), restored.combine(step, tasks))
