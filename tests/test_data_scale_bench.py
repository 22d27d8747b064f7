"""benchmarks/data_scale.py: its corpus generator, and one end-to-end run on a tiny corpus.

The end-to-end run must pass on data preparation with and without the ``data.workers``
option (the script passes it only where ``DataConfig`` has it).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "data_scale.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("data_scale", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["data_scale"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ds = _load()


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def test_render_equals_joining_the_words() -> None:
    lexicon = ds.make_lexicon("lgd", seed=3)  # Cyrillic: multi-byte characters
    words = [w.decode() for w in lexicon.data.tobytes().split(b" ")[:-1]]
    rng = np.random.default_rng(0)
    src, src_len, tgt, tgt_len = ds.draw_pairs(rng, 50, ds.zipf_cdf(ds.WORDS))
    for ranks, lengths in ((src, src_len), (tgt, tgt_len)):
        cuts = np.cumsum(lengths)[:-1]
        expected = "".join(" ".join(words[r] for r in s) + "\n" for s in np.split(ranks, cuts))
        assert ds.render(lexicon, ranks, lengths).decode() == expected


def test_the_corpus_is_aligned_imbalanced_deterministic_and_reused(tmp_path: Path) -> None:
    a = ds.generate_corpus(tmp_path / "a", 1500)
    b = ds.generate_corpus(tmp_path / "b", 1500)
    assert not a["reused"] and not b["reused"] and a["train"] == {"lga": 800, "lgb": 400, "lgc": 200, "lgd": 100}
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(names) == 4 * 3 * 2 + 1  # 4 pairs x 3 splits x 2 sides + the marker
    for name in names:
        if name != ds.MARKER:
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for lang, n in a["train"].items():
        for split, count in (("train", n), ("valid", 500), ("test", 500)):
            src = _lines(tmp_path / "a" / f"{split}.eng-{lang}.eng")
            tgt = _lines(tmp_path / "a" / f"{split}.eng-{lang}.{lang}")
            assert len(src) == len(tgt) == count
            src_words = np.array([len(s.split(" ")) for s in src])
            tgt_words = np.array([len(t.split(" ")) for t in tgt])
            assert src_words.min() >= ds.MIN_WORDS and src_words.max() <= ds.MAX_WORDS
            assert (tgt_words >= 1).all() and (tgt_words <= src_words).all()
            assert np.corrcoef(src_words, tgt_words)[0, 1] > 0.9
    stamp = (tmp_path / "a" / "train.eng-lga.eng").stat().st_mtime_ns
    again = ds.generate_corpus(tmp_path / "a", 1500)
    assert again["reused"] and (tmp_path / "a" / "train.eng-lga.eng").stat().st_mtime_ns == stamp
    other = ds.generate_corpus(tmp_path / "a", 150)  # other parameters: replaced
    assert not other["reused"] and len(_lines(tmp_path / "a" / "train.eng-lgd.lgd")) == 10


def test_the_benchmark_runs_end_to_end_on_a_tiny_corpus(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "10000", "--workers", "1,2",
         "--workdir", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| 10,000 | 1" in proc.stdout  # the table
    result = json.loads(out.read_text())
    machine = result["machine"]
    assert machine["cpus"] >= 1 and machine["ram_gb"] > 0 and machine["numpy"] and machine["sentencepiece"]
    assert machine["commit"] is None or len(machine["commit"]) == 40
    (size,) = result["sizes"]
    assert size["pairs"] == 10000 and size["corpus"]["bytes"] > 0
    assert size["identical_caches"] is True and size["cache_differences"] == []
    cold, warm = size["cold"], size["warm"]
    assert [run["workers"] for run in cold] == [1, 2]
    for run in [*cold, warm]:
        assert "error" not in run, run
        assert run["pairs"] == 10000 and run["pairs_kept"] + sum(run["skipped"].values()) == 10000
        assert 50 < run["peak_rss_mb"] < 20000 and run["tree_peak_rss_mb"] > 0
        assert run["wall_s"] > run["prepare_s"] > 0 and run["batch_tokens"] > 0
        assert run["log"] and all({"t_s", "message"} <= set(r) for r in run["log"])
    for run in cold:
        assert run["cache_bytes"] > 0
        if run["binarize_s"] is not None:  # read from the log, whose wording may change
            assert run["binarize_s"] > 0 and run["pairs_per_s"] > 0
    assert warm["wall_s"] < cold[0]["wall_s"] and warm["prepare_s"] < cold[0]["prepare_s"]
    assert not list((tmp_path / "work").glob("cache-*")), "caches are deleted after each size"
