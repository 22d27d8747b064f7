"""Tests for catsmt.evaluation.tables: marks, layout, CSV, seeds, determinism."""

from __future__ import annotations

import csv
import io
import statistics

import pytest

from catsmt.evaluation.scores import SplitScores, group_averages
from catsmt.evaluation.tables import build_table, strongest_baseline

GROUPS = {"aze": "low", "bel": "low", "por": "high", "rus": "high"}
SIG = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"


def _scores(bleu: dict[str, float], split: str = "test") -> SplitScores:
    """A score_languages-shaped result; chrF is BLEU + 20 so the metrics differ."""
    langs = {
        lang: {"bleu": v, "chrf": v + 20.0, "n": 100, "group": GROUPS[lang]}
        for lang, v in bleu.items()
    }
    avg_b = group_averages(bleu, GROUPS)
    return {
        "split": split,
        "beam": 5,
        "signature": {"bleu": SIG, "chrf": "nrefs:1|chrf"},
        "langs": langs,  # type: ignore[typeddict-item]
        "average": {k: {"bleu": v, "chrf": v + 20.0} for k, v in avg_b.items()},
    }


# T=1 has the best All among baselines (20.0 vs 19.5), though T=5 wins 'aze' and 'bel'.
RESULTS: dict[str, SplitScores] = {
    "T = 1": _scores({"aze": 5.0, "bel": 11.0, "por": 39.0, "rus": 25.0}),  # All 20.0
    "T = 5": _scores({"aze": 6.0, "bel": 12.0, "por": 35.0, "rus": 25.0}),  # All 19.5
    "CATS": _scores({"aze": 5.5, "bel": 11.9, "por": 40.0, "rus": 26.0}),  # All 20.85
}
BASELINES = ["T = 1", "T = 5"]


def _col(table, label: str) -> int:
    return [c.label for c in table.columns].index(label)


def test_columns_low_then_high_then_averages():
    shuffled = {"rus": "high", "aze": "low", "por": "high", "bel": "low"}
    table = build_table(RESULTS, BASELINES, groups=shuffled)
    assert [c.label for c in table.columns] == ["aze", "bel", "rus", "por", "All", "Lo", "Hi"]
    only = build_table(RESULTS, BASELINES, averages=["all", "low"])
    assert [c.label for c in only.columns][-2:] == ["All", "Lo"]
    assert table.cells["CATS"][_col(table, "All")].mean == pytest.approx(20.85)
    assert table.cells["CATS"][_col(table, "Lo")].mean == pytest.approx(8.7)


def test_bold_marks_the_column_maximum():
    table = build_table(RESULTS, BASELINES)
    for j, column in enumerate(table.columns):
        top = max(table.cells[m][j].mean for m in table.methods)
        for m in table.methods:
            assert table.cells[m][j].best == (table.cells[m][j].mean == top), (m, column)
    md = table.to_markdown()
    assert "**6.0**" in md and "**40.0**" in md and "**20.9**" in md  # T=5 aze, CATS por, All


def test_ties_at_shown_precision_are_all_bold():
    results = {
        "A": _scores({"aze": 5.04, "bel": 1, "por": 1, "rus": 1}),
        "B": _scores({"aze": 4.96, "bel": 1, "por": 1, "rus": 1}),
    }
    table = build_table(results, ["A"])
    assert table.cells["A"][0].best and table.cells["B"][0].best  # both show 5.0


def test_underline_marks_the_strongest_baseline_by_all():
    assert strongest_baseline(RESULTS, BASELINES) == "T = 1"
    assert strongest_baseline(RESULTS, []) is None
    table = build_table(RESULTS, BASELINES)
    assert table.strongest_baseline == "T = 1"
    assert all(c.strongest_baseline for c in table.cells["T = 1"])
    assert not any(c.strongest_baseline for m in ("T = 5", "CATS") for c in table.cells[m])
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.to_markdown().splitlines()}
    assert rows["T = 1"].count("<u>") == len(table.columns)
    assert "<u>**39.0**</u>" not in rows["T = 1"]  # por's best is CATS
    assert "<u>" not in rows["CATS"] and "<u>" not in rows["T = 5"]
    # the proposed method is not a baseline, so it is never underlined even when best
    assert strongest_baseline(RESULTS, ["T = 5", "CATS"]) == "CATS"


def test_star_only_where_significant():
    significance = {
        "CATS": {
            "aze": {"p": 0.30, "delta": 0.5, "significant": False},
            "por": {"p": 0.01, "delta": 1.0, "significant": True},
            "avg_all": {"p": 0.02, "delta": 0.85, "significant": True},
            "avg_high": {"p": 0.20, "delta": 1.0, "significant": False},
        }
    }
    table = build_table(RESULTS, BASELINES, significance=significance)
    starred = {
        (m, c.label)
        for m in table.methods
        for c, cell in zip(table.columns, table.cells[m], strict=True)
        if cell.significant
    }
    assert starred == {("CATS", "por"), ("CATS", "All")}
    cats_row = next(line for line in table.to_markdown().splitlines() if line.startswith("| CATS"))
    cells = cats_row.strip("| ").split(" | ")[1:]
    assert cells == ["5.5", "11.9", "**40.0\\***", "**26.0**", "**20.9\\***", "8.7", "**33.0**"]
    assert cats_row.count("\\*") == 2
    text_row = next(line for line in table.to_text().splitlines() if line.startswith("CATS"))
    assert text_row.count("*") == 2


def test_csv_is_parseable_and_holds_the_means():
    table = build_table(RESULTS, BASELINES)
    rows = list(csv.reader(io.StringIO(table.to_csv())))
    assert rows[0] == ["method", "aze", "bel", "por", "rus", "All", "Lo", "Hi"]
    assert [r[0] for r in rows[1:]] == list(RESULTS)
    by_method = {r[0]: [float(x) for x in r[1:]] for r in rows[1:]}
    assert by_method["CATS"] == pytest.approx([5.5, 11.9, 40.0, 26.0, 20.85, 8.7, 33.0])


def test_several_seeds_mean_and_std():
    seeds = [
        _scores({"aze": 5.0, "bel": 11.0, "por": 39.0, "rus": 25.0}),
        _scores({"aze": 7.0, "bel": 13.0, "por": 41.0, "rus": 27.0}),
    ]
    results = {"T = 1": RESULTS["T = 1"], "CATS": seeds}
    table = build_table(results, ["T = 1"])
    aze = table.cells["CATS"][0]
    assert aze.mean == pytest.approx(6.0)
    assert aze.std == pytest.approx(statistics.stdev([5.0, 7.0]))
    assert table.cells["T = 1"][0].std is None
    assert "6.0 ± 1.4" in table.to_markdown()
    assert "±" not in build_table({"T = 1": RESULTS["T = 1"]}, ["T = 1"]).to_markdown()
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert rows[1]["seeds"] == "2" and float(rows[1]["aze_std"]) == pytest.approx(1.4142, abs=1e-4)
    assert rows[0]["aze_std"] == ""


def test_metric_is_selectable():
    table = build_table(RESULTS, BASELINES, metric="chrf")
    assert table.cells["CATS"][0].mean == pytest.approx(25.5)
    assert "chrF on test" in table.to_markdown()
    with pytest.raises(ValueError, match="unknown metric 'ter'"):
        build_table(RESULTS, BASELINES, metric="ter")


def test_output_is_deterministic():
    a = build_table(RESULTS, set(BASELINES))
    b = build_table(dict(RESULTS), list(reversed(BASELINES)))
    assert a.to_markdown() == b.to_markdown()
    assert a.to_csv() == b.to_csv()
    assert a.to_text() == b.to_text()
    lines = a.to_text().splitlines()
    assert lines[0].split() == ["LoRes", "HiRes", "Avg."]
    assert lines[1].split()[:2] == ["Method", "aze"]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="baseline 'T = 100' has no results"):
        build_table(RESULTS, ["T = 100"])
    with pytest.raises(ValueError, match="unknown key 'xyz'"):
        build_table(
            RESULTS,
            BASELINES,
            significance={"CATS": {"xyz": {"p": 0, "delta": 0, "significant": True}}},
        )
    with pytest.raises(ValueError, match="significance given for 'GradNorm'"):
        build_table(RESULTS, BASELINES, significance={"GradNorm": {}})
    with pytest.raises(ValueError, match="mix splits"):
        build_table(
            {**RESULTS, "X": _scores({"aze": 1, "bel": 1, "por": 1, "rus": 1}, "valid")}, BASELINES
        )
    partial = _scores({"aze": 1.0, "bel": 1.0, "por": 1.0, "rus": 1.0})
    del partial["langs"]["rus"]
    with pytest.raises(ValueError, match=r"'rus' is missing from results\['X'\]\[0\]"):
        build_table({**RESULTS, "X": partial}, BASELINES)
    with pytest.raises(ValueError, match="method 'X' has no results"):
        build_table({**RESULTS, "X": []}, BASELINES)
    with pytest.raises(ValueError, match="no language is in group 'mid'"):
        build_table(RESULTS, BASELINES, averages=["all", "mid"])
