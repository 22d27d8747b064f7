"""Turn a comparison's runs into ``report.md`` and a self-contained ``report.html``.

The report holds the paper's Table 2 layout for BLEU and chrF (bold best, underlined
strongest baseline, ``*`` for p < 0.05 against it by paired bootstrap), validation NLL of
the best checkpoints, validation-loss curves per language and method (Figure 4), the
trajectories of each method's language weights or sampling distribution, and the
command and commit that produced it.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from catsmt.evaluation.significance import paired_bootstrap
from catsmt.evaluation.tables import GROUP_LABELS, Table, build_table, strongest_baseline
from catsmt.files import write_atomic
from catsmt.report import figures
from catsmt.report.methods import is_proposed, method_label

log = logging.getLogger(__name__)


def _refs_and_hyps(record: Any, split: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """References (from the run's corpus) and hypotheses (from its eval folder)."""
    from catsmt.config import Config, from_dict
    from catsmt.data import prepare_data

    cfg = from_dict(Config, yaml.safe_load((record.run_dir / "config.yaml").read_text()))
    data = prepare_data(cfg.data)
    refs, hyps = {}, {}
    for lang in record.scores["langs"]:
        path = record.run_dir / "eval" / "hyps" / f"{split}.{lang}.hyp"
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        hyps[lang] = lines
        refs[lang] = data.raw(split, lang)[1][: len(lines)]
    return refs, hyps


def significance_marks(records: Sequence[Any], metric: str, split: str) -> tuple[str | None, dict[str, Any]]:
    """Paired bootstrap of every method's first seed against the strongest baseline's."""
    by_method = _by_method(records)
    results = {m: [r.scores for r in rs] for m, rs in by_method.items()}
    groups = {lang: s["group"] for lang, s in records[0].scores["langs"].items()}
    baselines = [m for m in results if not is_proposed(m)]
    sb = strongest_baseline(results, baselines, metric, groups) if baselines else None
    if sb is None:
        return None, {}
    refs, base_hyps = _refs_and_hyps(by_method[sb][0], split)
    marks = {}
    for method, rs in by_method.items():
        if method == sb:
            continue
        _, hyps = _refs_and_hyps(rs[0], split)
        marks[method_label(method)] = paired_bootstrap(hyps, base_hyps, refs, groups, metric=metric)
    return sb, marks


def _by_method(records: Sequence[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in records:
        out.setdefault(r.method, []).append(r)
    return out


def build_tables(records: Sequence[Any], split: str) -> dict[str, Table]:
    """BLEU and chrF tables in the paper's layout, with significance marks."""
    by_method = _by_method(records)
    results = {method_label(m): [r.scores for r in rs] for m, rs in by_method.items()}
    baselines = [method_label(m) for m in by_method if not is_proposed(m)]
    tables = {}
    for metric in ("bleu", "chrf"):
        try:
            _, marks = significance_marks(records, metric, split)
        except (OSError, ValueError) as e:  # hypotheses missing: table without marks
            log.warning("no significance marks for %s: %s", metric, e)
            marks = {}
        tables[metric] = build_table(results, baselines, metric=metric, significance=marks or None)
    return tables


def _valid_table(records: Sequence[Any]) -> str:
    langs = list(records[0].scores["langs"])
    groups = {lang: records[0].scores["langs"][lang]["group"] for lang in langs}
    order = [lang for g in ("low", "mid", "high") for lang in langs if groups[lang] == g]
    lines = ["| Method | seed | " + " | ".join(order) + " | mean |", "|:--|--:|" + "--:|" * (len(order) + 1)]
    for r in records:
        vals = [r.valid_nll.get(lang) for lang in order]
        nums = [v for v in vals if v is not None]
        mean = sum(nums) / len(nums) if nums else float("nan")
        cells = [f"{v:.3f}" if v is not None else "" for v in vals]
        lines.append(f"| {method_label(r.method)} | {r.seed} | " + " | ".join(cells) + f" | {mean:.3f} |")
    return "\n".join(lines) + "\n"


def _html_valid_table(records: Sequence[Any]) -> str:
    """The validation-NLL table of :func:`_valid_table` as HTML."""
    rows = [line.strip("|").split("|") for line in _valid_table(records).strip().splitlines()]
    head, body = rows[0], rows[2:]
    cells = "".join(f"<th>{html.escape(c.strip())}</th>" for c in head)
    lines = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in row) + "</tr>" for row in body
    )
    return f'<table class="valid"><thead><tr>{cells}</tr></thead><tbody>{lines}</tbody></table>'


def _verdict(records: Sequence[Any]) -> list[str]:
    from catsmt.report.verdict import verdict

    return [line for metric in ("chrf", "bleu") for line in verdict(records, metric, method_label)] or ["(no T=1/T=∞ pair and no CATS run to judge)"]


def alpha_rows(records: Sequence[Any]) -> list[list[str]]:
    """Per CATS run: α at the end, its largest distance from 1/N over the run, how many of the
    logged points sat at the floor, and λ_c at the end (from metrics.jsonl)."""
    from catsmt.run.metrics import read_metrics

    rows: list[list[str]] = []
    for r in records:
        if not is_proposed(r.method):
            continue
        points = [e["weights"] for e in read_metrics(r.run_dir / "metrics.jsonl")
                  if e.get("event") == "train" and e.get("lang") == "all" and "cats/lambda_c" in e.get("weights", {})]
        if not points:
            continue
        langs = sorted(k.split("/", 1)[1] for k in points[-1] if k.startswith("alpha/"))
        uniform = 1 / len(langs)
        floor = float(yaml.safe_load((r.run_dir / "config.yaml").read_text())["weighting"].get("alpha_min", 0.01))
        if not rows:
            rows.append(["Method", "seed", *[f"α {lang} (end)" for lang in langs], "max |α − 1/N|", "points at floor", "λ_c (end)"])
        far = max(abs(p[f"alpha/{lang}"] - uniform) for p in points for lang in langs)
        at_floor = sum(p[f"alpha/{lang}"] <= floor + 1e-9 for p in points for lang in langs)
        rows.append([method_label(r.method), str(r.seed), *[f"{points[-1][f'alpha/{lang}']:.3f}" for lang in langs],
                     f"{far:.3f}", f"{at_floor} of {len(points) * len(langs)}", f"{points[-1]['cats/lambda_c']:.3f}"])
    return rows


def seed_rows(records: Sequence[Any]) -> list[list[str]]:
    """One row per (method, seed): the group means of test chrF and BLEU and the best
    checkpoint's mean validation NLL -- the numbers behind the mean ± sd of the tables."""
    from catsmt.report.figures import group_means

    rows = [["Method", "seed", "Lo chrF", "Hi chrF", "All chrF", "Lo BLEU", "Hi BLEU", "All BLEU", "valid NLL (mean)"]]
    for r in records:
        c, b = group_means(r.scores, "chrf"), group_means(r.scores, "bleu")
        nll = [v for v in r.valid_nll.values()]
        rows.append([
            method_label(r.method), str(r.seed),
            *[f"{m.get(g, float('nan')):.2f}" for m in (c, b) for g in ("low", "high", "all")],
            f"{sum(nll) / len(nll):.3f}" if nll else "",
        ])
    return rows


def _runs_rows(records: Sequence[Any]) -> list[list[str]]:
    """One row per run: what it trained (updates, target tokens, wall time) and why it stopped."""
    rows = [["Method", "seed", "updates", "stop reason", "target tokens", "train minutes", "best step"]]
    for r in records:
        s = r.summary
        rows.append([
            method_label(r.method), str(r.seed), str(s.get("steps", "")), str(s.get("stopped", "")),
            f"{int(s['target_tokens']):,}" if s.get("target_tokens") else "",
            f"{float(s['train_seconds']) / 60:.1f}" if s.get("train_seconds") else "",
            str(s.get("best_step", "")),
        ])
    return rows


def _md_rows(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|:--" + "|--:" * (len(rows[0]) - 1) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines) + "\n"


def _html_rows(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
    return f'<table class="runs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _evaluation_note(records: Sequence[Any], meta: Mapping[str, Any]) -> str:
    """How the scores were computed: decoding, how many sentences, the sacrebleu signatures."""
    n = {lang: s.get("n") for lang, s in records[0].scores["langs"].items()}
    sig = records[0].scores.get("signature", {})
    cap = meta.get("eval_max_sentences")
    sentences = (f"the first {cap} {meta.get('split', 'test')} sentences per language" if cap
                 else f"all {meta.get('split', 'test')} sentences")
    return (
        f"Best checkpoint of each run (lowest mean validation NLL); beam {meta.get('beam')}, length penalty "
        f"{meta.get('lenpen')}; {sentences} ({', '.join(f'{k} {v}' for k, v in n.items())}). "
        f"BLEU signature: {sig.get('bleu', '?')}; chrF signature: {sig.get('chrf', '?')}."
    )


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c.label)}</th>" for c in table.columns)
    groups = []
    for i, c in enumerate(table.columns):
        if i == 0 or table.columns[i - 1].group != c.group:
            span = 0  # the contiguous run of this group
            for d in table.columns[i:]:
                if d.group != c.group:
                    break
                span += 1
            groups.append(f'<th colspan="{span}">{GROUP_LABELS[c.group]}</th>')
    rows = []
    for method in table.methods:
        cells = []
        for cell in table.cells[method]:
            text = f"{cell.mean:.{table.digits}f}"
            if cell.std is not None:
                text += f" ± {cell.std:.{table.digits}f}"
            if cell.significant:
                text += "†" if cell.worse else "*"
            if cell.best:
                text = f"<b>{text}</b>"
            if cell.strongest_baseline:
                text = f"<u>{text}</u>"
            cells.append(f"<td>{text}</td>")
        rows.append(f"<tr><th>{html.escape(method)}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="results"><thead><tr><th></th>{"".join(groups)}</tr>'
        f"<tr><th>Method</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p class=\"legend\">{table.metric_name} on {html.escape(table.split)}; <b>bold</b>: best in column; "
        f"<u>underlined</u>: strongest baseline ({html.escape(str(table.strongest_baseline))}); "
        "*: significantly better, †: significantly worse than it (p &lt; 0.05, paired bootstrap).</p>"
    )


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(path.stem)}</figcaption></figure>'


def write_report(records: Sequence[Any], out: Path, meta: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` (images inlined) into ``out``."""
    split = str(meta.get("split", "test"))
    tables = build_tables(records, split)
    verdict_lines, alpha = _verdict(records), alpha_rows(records)  # each read once, shown twice
    figs = figures.write_figures(records, out / "figures", method_label)
    md = [
        "# catsmt comparison",
        "",
        f"Command: `{meta.get('command', '')}`  ",
        f"Commit: `{meta.get('commit', 'unknown')}`",
        "",
        _evaluation_note(records, meta),
        "",
        "## Runs",
        "",
        _md_rows(_runs_rows(records)),
        "## Verdict",
        "",
        *[f"- {line}" for line in verdict_lines],
        "",
        "## BLEU",
        "",
        tables["bleu"].to_markdown(),
        "## chrF",
        "",
        tables["chrf"].to_markdown(),
        "## Per seed",
        "",
        _md_rows(seed_rows(records)),
        "## Validation NLL of the best checkpoints",
        "",
        _valid_table(records),
        *(["## CATS: what α did", "", _md_rows(alpha)] if alpha else []),
        "## Figures",
        "",
    ]
    md += [f"![{p.stem}](figures/{p.name})\n" for p in figs]
    md_path = out / "report.md"
    write_atomic(md_path, "\n".join(md) + "\n")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "thead th{background:#f3f3f3;text-align:center}tbody th{text-align:left}.legend{color:#555;font-size:90%}"
        "figure{display:inline-block;margin:0.5em}img{max-width:100%}"
    )
    body = [
        "<h1>catsmt comparison</h1>",
        f"<p>Command: <code>{html.escape(str(meta.get('command', '')))}</code><br>Commit: <code>{html.escape(str(meta.get('commit')))}</code></p>",
        f"<p>{html.escape(_evaluation_note(records, meta))}</p>",
        "<h2>Runs</h2>", _html_rows(_runs_rows(records)),
        "<h2>Verdict</h2><ul>", *[f"<li>{html.escape(line)}</li>" for line in verdict_lines], "</ul>",
        "<h2>BLEU</h2>", _html_table(tables["bleu"]),
        "<h2>chrF</h2>", _html_table(tables["chrf"]),
        "<h2>Per seed</h2>", _html_rows(seed_rows(records)),
        "<h2>Validation NLL of the best checkpoints</h2>", _html_valid_table(records),
        *(["<h2>CATS: what α did</h2>", _html_rows(alpha)] if alpha else []),
        "<h2>Figures</h2>", *[_img(p) for p in figs],
    ]
    html_path = out / "report.html"
    write_atomic(
        html_path,
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>catsmt comparison</title><style>{style}</style></head>"
        f"<body>{''.join(body)}</body></html>\n",
    )
    return md_path, html_path
