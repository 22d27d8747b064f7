from __future__ import annotations

from pathlib import Path

import pytest

from catsmt.analysis.gradsim import PairingRow
from catsmt.analysis.plots import plot_curves, plot_similarity_heatmap

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path: Path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_plot_curves_writes_a_png(tmp_path: Path) -> None:
    records = [
        {"step": s, "lang": lang, "method": method, "lambda_max": s * k * 0.1}
        for s in (0, 100, 200)
        for k, lang in enumerate(("bel", "rus"), start=1)
        for method in ("T=1", "cats")
    ]
    records.append({"step": 50, "split": "valid", "loss": 3.2})  # another event: skipped
    out = plot_curves(records, tmp_path / "figs" / "lambda_max.png", title="top eigenvalue")
    assert out == tmp_path / "figs" / "lambda_max.png" and is_png(out)


def test_plot_curves_without_hue_or_style(tmp_path: Path) -> None:
    records = [{"step": s, "cos": 0.1 * s} for s in range(5)]
    assert is_png(plot_curves(records, tmp_path / "cos.png", y="cos", hue=None, style=None))


def test_plot_curves_rejects_records_without_the_axes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'lambda_max'"):
        plot_curves([{"step": 1, "loss": 2.0}], tmp_path / "x.png")


def test_plot_similarity_heatmap_writes_pngs(tmp_path: Path) -> None:
    rows = [
        PairingRow(pairing=p, group=g, cos_mean=c, cos_std=0.0, mag_mean=m, mag_std=0.0, n=1)
        for p, c, m in (("HiLo", -0.05, 0.4), ("HiHi", 0.2, 0.9), ("LoLo", 0.15, 0.8))
        for g in ("E.SA", "E.FC", "D.SA", "D.EA", "D.FC")
    ]
    rows = rows[:-1]  # a missing cell is left blank
    assert is_png(plot_similarity_heatmap(rows, tmp_path / "cos.png"))
    assert is_png(plot_similarity_heatmap(rows, tmp_path / "mag.png", metric="mag"))
    with pytest.raises(ValueError, match="metric"):
        plot_similarity_heatmap(rows, tmp_path / "x.png", metric="norm")
    with pytest.raises(ValueError, match="no aggregated"):
        plot_similarity_heatmap([], tmp_path / "x.png")


def test_a_crowded_legend_goes_beside_the_axes_without_collapsing_them(tmp_path) -> None:
    import warnings

    from matplotlib.image import imread

    records = [{"step": s, "lang": f"l{i}", "method": f"m{j}", "lambda_max": float(i + j + s)}
               for i in range(8) for j in range(7) for s in (1, 2, 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when constrained layout collapses the axes
        path = plot_curves(records, tmp_path / "crowded.png")
    height, width = imread(path).shape[:2]
    assert width > 1.5 * height  # widened for the legend's columns
