"""Results tables in the layout of the paper's Table 2.

Rows are methods, columns are the low-resource languages, then the high-resource ones,
then the averages (*All*, *Lo*, *Hi*). The best value of each column is bold, the
strongest baseline (the baseline with the highest *All* average) is underlined, and a
``*`` marks a cell whose difference to the strongest baseline is significant
(``p < 0.05``, from :func:`catsmt.evaluation.significance.paired_bootstrap`).

With several seeds per method a cell holds the mean over seeds and, in markdown and
plain text, the sample standard deviation (``ddof=1``). Averages are recomputed per seed
from the per-language scores and the given groups, then averaged over seeds.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from catsmt.evaluation.scores import (
    GROUPS,
    METRICS,
    SplitScores,
    check_languages,
    check_same_languages,
    group_averages,
)
from catsmt.evaluation.significance import PairedResult

#: Column labels of the averages; the keys are those of ``SplitScores["average"]``.
AVERAGE_LABELS: dict[str, str] = {"all": "All", "low": "Lo", "mid": "Mid", "high": "Hi"}
#: Group headers, as in the paper.
GROUP_LABELS: dict[str, str] = {"low": "LoRes", "mid": "MidRes", "high": "HiRes", "avg": "Avg."}


@dataclass(frozen=True)
class Column:
    """One column: a language or an average."""

    key: str  # language code, or "all"/"low"/"mid"/"high" for an average
    label: str  # "aze", "All", "Lo", ...
    group: str  # "low"/"mid"/"high" for a language, "avg" for an average


@dataclass(frozen=True)
class Cell:
    """One method's value in one column, with its marks."""

    mean: float
    std: float | None  # sample std over seeds; None with a single seed
    best: bool  # (one of) the highest value(s) of the column, at the shown precision
    strongest_baseline: bool  # the row is the strongest baseline
    significant: bool  # significantly different from the strongest baseline
    worse: bool = False  # ... and below it (the mark then says so)


@dataclass(frozen=True)
class Table:
    """A laid-out results table; render it with ``to_markdown``, ``to_csv`` or ``to_text``."""

    metric: str
    split: str
    columns: list[Column]
    methods: list[str]
    cells: dict[str, list[Cell]]  # method -> one cell per column
    seeds: dict[str, int]  # method -> number of seeds averaged
    strongest_baseline: str | None
    digits: int

    def _value(self, cell: Cell, with_std: bool) -> str:
        text = f"{cell.mean:.{self.digits}f}"
        if with_std and cell.std is not None:
            text += f" ± {cell.std:.{self.digits}f}"
        return text

    def _legend(self, best: str, baseline: str, star: str) -> str:
        """One line explaining the marks; ``baseline`` may hold ``{name}``."""
        parts = [f"{self.metric_name} on {self.split}", f"{best}: best in column"]
        if self.strongest_baseline is not None:
            parts.append(baseline.format(name=self.strongest_baseline))
        if any(c.significant for row in self.cells.values() for c in row):
            against = "the strongest baseline" if self.strongest_baseline else "the baseline"
            parts.append(f"{star}: significantly better, †: significantly worse than {against} (p < 0.05, paired bootstrap)")
        if max(self.seeds.values()) > 1:
            parts.append("mean ± std over seeds")
        return "; ".join(parts) + "."

    @property
    def metric_name(self) -> str:
        """The metric as the paper writes it (``BLEU``, ``chrF``)."""
        return {"bleu": "BLEU", "chrf": "chrF"}.get(self.metric, self.metric)

    def to_markdown(self) -> str:
        """Markdown table: a group row (LoRes / HiRes / Avg.), one row per method, legend."""
        header = ["Method"] + [c.label for c in self.columns]
        group_row = [""] + [
            f"*{GROUP_LABELS[c.group]}*" if i == 0 or self.columns[i - 1].group != c.group else ""
            for i, c in enumerate(self.columns)
        ]
        lines = [
            "| " + " | ".join(header) + " |",
            "|:--" + "|--:" * len(self.columns) + "|",
            "| " + " | ".join(group_row) + " |",
        ]
        for method in self.methods:
            row = [method.replace("|", "\\|")]
            for cell in self.cells[method]:
                text = self._value(cell, with_std=True)
                if cell.significant:
                    text += "†" if cell.worse else "\\*"
                if cell.best:
                    text = f"**{text}**"
                if cell.strongest_baseline:
                    text = f"<u>{text}</u>"
                row.append(text)
            lines.append("| " + " | ".join(row) + " |")
        lines += [
            "",
            self._legend("**bold**", "<u>underlined</u>: strongest baseline ({name})", "\\*"),
        ]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """CSV with a ``method`` column and one column per language and average.

        Values are means with four decimals and no marks. With more than one seed for
        some method, a ``seeds`` column and a ``<label>_std`` column after each value
        are added (empty for a single-seed method).
        """
        multi = max(self.seeds.values()) > 1
        header = ["method"] + (["seeds"] if multi else [])
        for c in self.columns:
            header += [c.label, f"{c.label}_std"] if multi else [c.label]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for method in self.methods:
            row = [method] + ([str(self.seeds[method])] if multi else [])
            for cell in self.cells[method]:
                row.append(f"{cell.mean:.4f}")
                if multi:
                    row.append("" if cell.std is None else f"{cell.std:.4f}")
            writer.writerow(row)
        return buf.getvalue()

    def to_text(self) -> str:
        """Aligned plain text for a terminal: ``^`` marks the best, ``*`` significance."""
        any_sig = any(c.significant for row in self.cells.values() for c in row)
        body: list[list[str]] = []
        for method in self.methods:
            row = [method]
            for cell in self.cells[method]:
                # fixed-width marks after the number keep the numbers aligned
                marks = ("^" if cell.best else " ") + (
                    (("†" if cell.worse else "*") if cell.significant else " ") if any_sig else ""
                )
                row.append(self._value(cell, with_std=True).replace(" ± ", "±") + marks)
            body.append(row)
        groups = [""] + [
            GROUP_LABELS[c.group] if i == 0 or self.columns[i - 1].group != c.group else ""
            for i, c in enumerate(self.columns)
        ]
        pad = " " * (2 if any_sig else 1)  # labels line up with the numbers, not the marks
        labels = ["Method"] + [c.label + pad for c in self.columns]
        rows = [groups, labels, *body]
        widths = [max(len(r[i]) for r in rows) for i in range(len(labels))]
        lines = []
        for r in rows:
            first = r[0].ljust(widths[0])
            rest = [
                # group labels are left-aligned over their first column, values right-aligned
                (t.ljust(w) if r is groups else t.rjust(w))
                for t, w in zip(r[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join([first, *rest]).rstrip())
        lines += ["", self._legend("^", "strongest baseline: {name}", "*")]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Aggregated:
    """Results checked and reduced to (mean, std) per method and column."""

    split: str
    columns: list[Column]
    values: dict[str, list[tuple[float, float | None]]]  # method -> per column
    seeds: dict[str, int]


def _metric_value(scores: Mapping[str, object], metric: str, where: str) -> float:
    """``scores[metric]`` as a number, for results that may come from a JSON file."""
    value = scores.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} has no numeric '{metric}' (got {value!r})")
    return float(value)


def _aggregate(
    results: Mapping[str, SplitScores | Sequence[SplitScores]],
    metric: str,
    groups: Mapping[str, str] | None,
    averages: Sequence[str] | None,
) -> _Aggregated:
    """Check ``results`` and reduce each method's seeds to (mean, std) per column."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; valid metrics: {', '.join(METRICS)}")
    if not results:
        raise ValueError("no results to tabulate")
    runs: dict[str, list[SplitScores]] = {}
    for method, value in results.items():
        runs[method] = [value] if isinstance(value, Mapping) else list(value)
        if not runs[method]:
            raise ValueError(f"method '{method}' has no results")
    if groups is None:  # the groups recorded with the first result
        groups = {lang: s["group"] for lang, s in next(iter(runs.values()))[0]["langs"].items()}
    check_languages(groups)

    splits = sorted({run["split"] for rs in runs.values() for run in rs})
    if len(splits) > 1:
        raise ValueError(f"results mix splits {splits}; tabulate one split at a time")
    first_signature: str | None = None
    for method, rs in runs.items():
        for i, run in enumerate(rs):
            check_same_languages("groups", groups, **{f"results['{method}'][{i}]": run["langs"]})
            signature = str(run["signature"].get(metric))
            first_signature = first_signature or signature
            if signature != first_signature:
                raise ValueError(
                    f"method '{method}' was scored with a different {metric} signature "
                    f"({signature} vs {first_signature}); rescore so the numbers compare"
                )

    columns = _columns(groups, averages)
    values: dict[str, list[tuple[float, float | None]]] = {}
    for method, rs in runs.items():
        per_seed: list[dict[str, float]] = []
        for i, run in enumerate(rs):
            by_lang = {
                lang: _metric_value(
                    run["langs"][lang], metric, f"results['{method}'][{i}]['{lang}']"
                )
                for lang in groups
            }
            per_seed.append({**by_lang, **group_averages(by_lang, groups)})
        values[method] = []
        for column in columns:
            xs = [seed[column.key] for seed in per_seed]
            values[method].append(
                (statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else None)
            )
    return _Aggregated(splits[0], columns, values, {m: len(rs) for m, rs in runs.items()})


def _columns(groups: Mapping[str, str], averages: Sequence[str] | None) -> list[Column]:
    """Languages low, mid, high (in ``groups`` order within a group), then the averages."""
    present = [g for g in GROUPS if g in groups.values()]
    if averages is None:
        averages = ["all", *present]
    for key in averages:
        if key not in AVERAGE_LABELS:
            raise ValueError(
                f"unknown average '{key}'; valid averages: {', '.join(AVERAGE_LABELS)}"
            )
        if key != "all" and key not in present:
            raise ValueError(f"average '{key}' requested but no language is in group '{key}'")
    columns = [
        Column(lang, lang, group) for group in present for lang in groups if groups[lang] == group
    ]
    return columns + [Column(key, AVERAGE_LABELS[key], "avg") for key in averages]


def strongest_baseline(
    results: Mapping[str, SplitScores | Sequence[SplitScores]],
    baselines: Collection[str],
    metric: str = "bleu",
    groups: Mapping[str, str] | None = None,
) -> str | None:
    """The baseline with the highest *All* average (mean over seeds); ``None`` if none.

    Ties go to the method listed first in ``results``. Run the significance test of the
    proposed method against this one.

    Raises:
        ValueError: for a baseline that is not in ``results``, or malformed results.
    """
    for name in sorted(baselines):
        if name not in results:
            raise ValueError(f"baseline '{name}' has no results; methods: {', '.join(results)}")
    agg = _aggregate(results, metric, groups, ["all"])
    best: str | None = None
    for method in results:
        if method in baselines and (
            best is None or agg.values[method][-1][0] > agg.values[best][-1][0]
        ):
            best = method
    return best


def _significance_key(column: Column) -> str:
    """The key of ``column`` in a :func:`paired_bootstrap` result."""
    return f"avg_{column.key}" if column.group == "avg" else column.key


def build_table(
    results: Mapping[str, SplitScores | Sequence[SplitScores]],
    baselines: Collection[str],
    *,
    metric: str = "bleu",
    groups: Mapping[str, str] | None = None,
    significance: Mapping[str, Mapping[str, PairedResult]] | None = None,
    averages: Sequence[str] | None = None,
    digits: int = 1,
) -> Table:
    """Lay out ``results`` as the paper's Table 2.

    Args:
        results: method -> the :func:`~catsmt.evaluation.scores.score_languages` output of
            one run, or a list of them (one per seed). Rows follow this order.
        baselines: the methods that count as baselines (e.g. all but the proposed one).
        metric: ``"bleu"`` or ``"chrf"``.
        groups: language -> group; by default the groups recorded in the first result.
            Languages are shown low, (mid,) high, in this mapping's order within a group.
        significance: method -> :func:`~catsmt.evaluation.significance.paired_bootstrap`
            output of that method against the strongest baseline; a cell gets ``*`` where
            it says ``significant``. Keys are languages and ``avg_all``/``avg_low``/...
        averages: which averages to show, from ``"all"``, ``"low"``, ``"mid"``,
            ``"high"``; by default ``"all"`` and every non-empty group.
        digits: decimals shown; "best" is decided at this precision, so ties are all bold.

    Raises:
        ValueError: naming the method, language, baseline or key that is wrong.
    """
    sb = strongest_baseline(results, baselines, metric, groups)
    agg = _aggregate(results, metric, groups, averages)

    marks: dict[str, set[str]] = {}
    worse: dict[str, set[str]] = {}
    valid = {_significance_key(c) for c in agg.columns if c.group != "avg"}
    valid |= {f"avg_{key}" for key in AVERAGE_LABELS}
    for method, tests in (significance or {}).items():
        if method not in results:
            raise ValueError(
                f"significance given for '{method}', which has no results; "
                f"methods: {', '.join(results)}"
            )
        for key in tests:
            if key not in valid:
                raise ValueError(
                    f"significance for '{method}' has unknown key '{key}'; "
                    f"valid keys: {', '.join(sorted(valid))}"
                )
        marks[method] = {key for key, test in tests.items() if test["significant"]}
        worse[method] = {key for key, test in tests.items() if test["significant"] and test["delta"] < 0}

    best = [
        max(round(agg.values[m][j][0], digits) for m in results) for j in range(len(agg.columns))
    ]
    cells = {
        method: [
            Cell(
                mean=mean,
                std=std,
                best=round(mean, digits) == best[j],
                strongest_baseline=method == sb,
                significant=_significance_key(column) in marks.get(method, set()),
                worse=_significance_key(column) in worse.get(method, set()),
            )
            for j, (column, (mean, std)) in enumerate(
                zip(agg.columns, agg.values[method], strict=True)
            )
        ]
        for method in results
    }
    return Table(
        metric=metric,
        split=agg.split,
        columns=agg.columns,
        methods=list(results),
        cells=cells,
        seeds=agg.seeds,
        strongest_baseline=sb,
        digits=digits,
    )
