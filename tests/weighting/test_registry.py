"""The registry of weighting methods, and what every registered method must honour."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import re

import pytest
import torch

from catsmt.config import ConfigError, from_dict
from catsmt.weighting import WEIGHTINGS, RunBudget, TaskGradients, Weighting, get_method, register
from catsmt.weighting.config import WeightingConfig

LANGS = ["aze", "bel", "glg", "por", "rus", "tur"]
SIZES = {"aze": 50, "bel": 80, "glg": 100, "por": 2000, "rus": 3000, "tur": 1500}
DIM = 24
EXPECTED = {"cats", "dro", "famo", "gradnorm", "gradvac", "mgda", "multidds", "pcgrad", "temperature", "torchjd", "unimax"}
BUDGET = RunBudget(updates=300, examples=9000)
#: Registered methods whose optional dependency is missing here: skipped, with the reason.
OPTIONAL = {"torchjd": "torchjd"}


def methods() -> list[object]:
    """Every registered name for the tests that build the method; those whose optional
    package is absent are marked to skip."""
    out: list[object] = []
    for name in sorted(WEIGHTINGS):
        package = OPTIONAL.get(name)
        if package is not None and importlib.util.find_spec(package) is None:
            out.append(pytest.param(name, marks=pytest.mark.skip(reason=f"{package} is not installed (pip install 'catsmt[{name}]')")))
        else:
            out.append(name)
    return out


def build(name: str) -> Weighting:
    cls = get_method(name)
    return cls(cls.Params(), LANGS, SIZES, budget=BUDGET)


def random_batch(gen: torch.Generator) -> TaskGradients:
    """K <= N distinct languages with random gradients, losses and token counts."""
    k = int(torch.randint(1, len(LANGS) + 1, (1,), generator=gen))
    chosen = sorted(torch.randperm(len(LANGS), generator=gen)[:k].tolist())
    dev = torch.randn(DIM, generator=gen)
    return TaskGradients(
        langs=[LANGS[i] for i in chosen],
        losses=torch.rand(k, generator=gen) * 5 + 0.5,
        n_tokens=torch.randint(1, 500, (k,), generator=gen).float(),
        grads=torch.randn(k, DIM, generator=gen),
        dev_grad=lambda: dev,
    )


def run_step(method: Weighting, step: int, tasks: TaskGradients) -> torch.Tensor:
    """What a training loop does: combine on task-gradient steps, else weighted gradients;
    then, for the methods that ask, the update's losses."""
    if method.needs_task_grads(step):
        out = method.combine(step, tasks)
    else:
        out = method.loss_weights(step, tasks.langs, tasks.n_tokens) @ tasks.grads
    if method.observes_losses:
        method.observe_losses(step, tasks.langs, tasks.losses, tasks.n_tokens)
    return out


def test_registry_holds_the_methods_in_order() -> None:
    assert set(WEIGHTINGS) >= EXPECTED
    assert list(WEIGHTINGS) == sorted(WEIGHTINGS)


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(KeyError) as err:
        get_method("pcgard")
    message = str(err.value)
    assert "pcgard" in message
    for name in WEIGHTINGS:
        assert name in message


def test_registering_a_name_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register("pcgrad", WEIGHTINGS["pcgrad"])

    class Plugin(Weighting):
        """A plugin method for the test."""

    register("test-plugin", Plugin)
    try:
        assert get_method("test-plugin") is Plugin
        with pytest.raises(ValueError, match="test-plugin"):
            register("test-plugin", Plugin)
    finally:
        del WEIGHTINGS["test-plugin"]


@pytest.mark.parametrize("name", sorted(WEIGHTINGS))
def test_params_have_defaults_help_and_load_from_config(name: str) -> None:
    cls = get_method(name)
    assert cls.__doc__ and re.search(r"\b(19|20)\d\d\b", cls.__doc__)  # cites its paper and year
    for f in dataclasses.fields(cls.Params):
        assert f.metadata.get("help"), f"{name}.{f.name} has no help text"
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    assert dataclasses.asdict(from_dict(cls.Params, {})) == dataclasses.asdict(cls.Params())
    cfg = WeightingConfig.from_mapping({"method": name})
    assert isinstance(cfg.params, cls.Params)
    with pytest.raises(ConfigError, match="unknown key 'no_such_option'"):
        WeightingConfig.from_mapping({"method": name, "no_such_option": 1})


@pytest.mark.parametrize("name", methods())
def test_every_method_runs_on_random_batches(name: str) -> None:
    method = build(name)
    probs = method.sampling_probs()
    assert set(probs) == set(LANGS) and sum(probs.values()) == pytest.approx(1.0)
    gen = torch.Generator().manual_seed(0)
    for step in range(6):
        tasks = random_batch(gen)
        w = method.loss_weights(step, tasks.langs, tasks.n_tokens)
        assert w.shape == (len(tasks.langs),) and bool(w.isfinite().all())
        out = method.combine(step, tasks)
        assert out.shape == (DIM,) and out.dtype == tasks.grads.dtype and bool(out.isfinite().all())
        assert all(isinstance(v, float) for v in method.log_values().values())


@pytest.mark.parametrize("name", methods())
def test_state_round_trips_through_a_safe_checkpoint_and_continues_identically(name: str) -> None:
    gen = torch.Generator().manual_seed(1)
    first = [(step, random_batch(gen)) for step in (0, 1, 2, 3, 100)]
    then = [(step, random_batch(gen)) for step in (101, 102, 200, 201, 300)]
    original = build(name)
    for step, tasks in first:
        run_step(original, step, tasks)
    buf = io.BytesIO()
    torch.save(original.state_dict(), buf)
    buf.seek(0)
    restored = build(name)
    restored.load_state_dict(torch.load(buf, weights_only=True))
    for step, tasks in then:
        assert torch.equal(run_step(original, step, tasks), run_step(restored, step, tasks))
        assert original.sampling_probs() == restored.sampling_probs()
    assert original.log_values() == restored.log_values()
