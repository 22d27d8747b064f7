"""The weights figure plots whatever a method logs per language, from the method's own log."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread

from catsmt.report.compare import RunRecord
from catsmt.report.figures import (
    SAMPLING,
    cats_multiplier_figure,
    method_styles,
    pareto_figure,
    valid_loss_figure,
    valid_loss_plot,
    weight_series,
    weights_figure,
)
from catsmt.weighting import RunBudget, Weighting, get_method

LANGS = ["aa", "bb", "cc"]
SIZES = {"aa": 100, "bb": 1000, "cc": 5000}
GROUPS = {"aa": "low", "bb": "high", "cc": "high"}
PANEL_PX = 3.2 * 90  # weights_figure: 3.2 inches a panel, saved at 90 dpi


def _run(tmp_path: Path, name: str, steps: int = 12, **params: object) -> RunRecord:
    """A run folder whose train events hold what the method itself logs while it observes
    per-language losses falling at different rates (as the training loop logs them)."""
    cls = get_method(name)
    method: Weighting = cls(cls.Params(**params), LANGS, SIZES, budget=RunBudget(updates=steps, examples=20_000))
    n_tokens = torch.tensor([200.0, 300.0, 400.0])
    events = []
    for step in range(steps):
        method.loss_weights(step, LANGS, n_tokens)
        losses = torch.tensor([5.0 * math.exp(-r * step) for r in (0.01, 0.05, 0.2)])
        if method.observes_losses:
            method.observe_losses(step, LANGS, losses, n_tokens)
        events.append({"event": "train", "step": step + 1, "split": "train", "lang": "all",
                       "weights": method.log_values(), "sampling": method.sampling_probs()})
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    scores = {"langs": {lang: {"group": GROUPS[lang]} for lang in LANGS}}
    return RunRecord(name, 1, run_dir, scores, {}, {})


def _panels(path: Path) -> float:
    return imread(path).shape[0] / PANEL_PX


def test_famo_weights_are_plotted(tmp_path: Path) -> None:
    record = _run(tmp_path, "famo")
    series = weight_series(record)
    assert set(series["famo_z"]) == set(LANGS)
    z_end = {lang: pts[-1][1] for lang, pts in series["famo_z"].items()}
    assert z_end["aa"] > z_end["cc"]  # the slowest-falling loss gains weight
    path = weights_figure(record, tmp_path / "weights_famo.png", str)
    assert path is not None and path.exists()
    assert _panels(path) == pytest.approx(1)  # famo_z; FAMO's sampling is static (T = inf)


def test_dro_plots_its_mixture_once_when_it_is_the_sampling_distribution(tmp_path: Path) -> None:
    record = _run(tmp_path, "dro", update_every=3)
    series = weight_series(record)
    assert set(series) >= {"dro_q", SAMPLING}
    assert "dro" not in series  # dro/chi_square and dro/robust_loss are not per language
    path = weights_figure(record, tmp_path / "weights_dro.png", str)
    assert path is not None and _panels(path) == pytest.approx(1)  # q resamples: one panel, not two


def test_dro_reweighting_plots_its_mixture_beside_a_static_sampling(tmp_path: Path) -> None:
    record = _run(tmp_path, "dro", update_every=3, mode="reweight")
    path = weights_figure(record, tmp_path / "weights_dro.png", str)
    assert path is not None and _panels(path) == pytest.approx(1)


@pytest.mark.parametrize("name", ["temperature", "unimax"])
def test_static_weights_make_no_figure(tmp_path: Path, name: str) -> None:
    record = _run(tmp_path, name)
    if name == "unimax":
        assert set(weight_series(record)["unimax_epochs"]) == set(LANGS)  # logged, but constant
    assert weights_figure(record, tmp_path / f"weights_{name}.png", str) is None


def _valid_run(tmp_path: Path, name: str) -> RunRecord:
    """A finished run folder with validation NLL at a few updates for every language."""
    run_dir = tmp_path / name
    run_dir.mkdir()
    events = [{"event": "valid", "step": step, "split": "valid", "lang": lang, "nll": 5.0 - step / 100 + i}
              for step in (100, 200, 300) for i, lang in enumerate(LANGS)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    scores = {"langs": {lang: {"group": GROUPS[lang]} for lang in LANGS}}
    return RunRecord(name, 1, run_dir, scores, {}, {})


@pytest.mark.parametrize("n", [1, 3, 10, 11, 15, 40])
def test_every_method_gets_its_own_colour_and_line_style(n: int) -> None:
    styles = method_styles(n)
    assert len(styles) == n
    assert len({(str(s["color"]), s["linestyle"]) for s in styles}) == n


def test_validation_curves_keep_the_legend_off_the_panels(tmp_path: Path) -> None:
    """With 15 methods (the CPU study's report) the legend covered the first panel, and the
    default ten colours repeated: two methods drew identical lines."""
    records = [_valid_run(tmp_path, f"m{i}") for i in range(15)]
    fig = valid_loss_plot(records, str)
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [f"m{i}" for i in range(15)]
    panel = fig.axes[0]
    looks = {(str(line.get_color()), line.get_linestyle()) for line in panel.get_lines()}
    assert len(panel.get_lines()) == 15 and len(looks) == 15
    assert all(np.size(line.get_xdata()) == 3 and line.get_marker() == "o" for line in panel.get_lines())
    path = valid_loss_figure(records, tmp_path / "valid_nll.png", str)
    assert imread(path).shape[0] > 0


def _saved_figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Every Figure that the code under test saves, drawn, in order."""
    saved: list[Figure] = []
    original = Figure.savefig

    def savefig(self: Figure, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        saved.append(self)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def _titles_inside(fig: Figure) -> bool:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width = fig.bbox.width
    titles = [ax.title for ax in fig.axes if ax.title.get_text()]
    boxes = [t.get_window_extent(renderer) for t in titles]
    return bool(boxes) and all(box.x0 >= 0 and box.x1 <= width for box in boxes)


LONG = "CATS (loss_term=ascent, temperature=5, alpha_lr=0.5)"


def test_long_method_labels_keep_titles_inside_the_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU study's labels are long: centred one-line titles were cut at both ends."""
    saved = _saved_figures(monkeypatch)
    run_dir = tmp_path / "cats"
    run_dir.mkdir()
    events = [{"event": "train", "step": step, "split": "train", "lang": "all",
               "weights": {**{f"alpha/{lang}": (1 + i * step / 10) / 3 for i, lang in enumerate(LANGS)},
                           "cats/lambda_c": step / 10, "cats/curvature": 1 / step}}
              for step in range(1, 11)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    scores = {"langs": {lang: {"group": GROUPS[lang], "bleu": 1.0, "chrf": 2.0 + i} for i, lang in enumerate(LANGS)}}
    record = RunRecord("cats", 1, run_dir, scores, {}, {})
    label = lambda method: LONG  # noqa: E731
    assert weights_figure(record, tmp_path / "w.png", label) is not None
    pareto_figure([record], tmp_path / "p.png", label, "chrf")
    assert cats_multiplier_figure(record, tmp_path / "m.png", label) is not None
    assert len(saved) == 3
    assert all(_titles_inside(fig) for fig in saved)
