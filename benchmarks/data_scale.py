"""Wall time, peak memory and throughput of data preparation at 1M-20M sentence pairs (issue 19).

For each ``--sizes`` entry it generates a synthetic corpus (below) once, then runs
``prepare_data`` plus one ``sampler.next_batch()`` in a fresh Python process per case:

- **cold**, once per ``--workers`` entry, each into an empty cache folder: reads and hashes
  the corpus, trains the vocabulary (``data.vocab_size=8000``), binarizes. "Cold" is the catsmt
  cache; the corpus files are usually in the OS page cache (just written or read before).
- **warm**: a second process on the first cold run's cache (loads the vocabulary, maps the
  arrays).

How it measures:

- ``wall_s``: the whole child process (interpreter start and imports included), timed by the
  parent.
- ``peak_rss_mb``: the child's resident-set high-water mark from ``os.wait4`` (``ru_maxrss``:
  the largest of the child and the descendants it waited for, not their sum).
- ``tree_peak_rss_mb`` / ``tree_peak_pss_mb``: the largest sum of ``VmRSS`` / ``Pss`` over the
  child and its descendants, sampled every 0.1 s: what parallel workers use together. PSS
  splits a shared page among the processes that map it, so the sum counts it once; the table
  shows PSS.
- Phase times, read from the child's INFO log (its records are kept in the result with their
  times) the same way whatever the messages say: ``binarize_s`` from the first record that
  mentions binarizing to the end of ``prepare_data``, ``before_binarize_s`` everything before
  that (checking and reading the corpus, training the vocabulary). ``pairs_per_s`` is training
  pairs over ``binarize_s`` (that phase also encodes the 4,000 valid and test pairs).

``data.workers`` is passed only where ``catsmt.data.config.DataConfig`` has that field, so the
script also measures code that predates it (both cold runs are then the same one-process
build, marked "no option" in the table).

The two cold caches are compared file by file (sha256 of everything in the ``data-*`` entry and
of ``spm-*.model``); ``identical_caches`` says whether every worker count built the same bytes.

The corpus, written under ``--workdir`` and never committed: English (``eng``) to four made-up
languages in the fairseq layout (``{split}.eng-{xx}.eng`` / ``.{xx}``), training pairs split
8:4:2:1 (``lga`` largest, ``lgd`` smallest), 500 valid and 500 test pairs per language. Each
language has a lexicon of 4,000 made-up words (its own letters; ``lgd`` Cyrillic) drawn with a
Zipf-Mandelbrot frequency, shorter words more frequent; a source sentence has 5-40 words
(uniform), its target is the word-for-word "translation" (word rank ``r`` -> the target
lexicon's word ``r``) with 10% of the words replaced by random ones and 5% dropped, so the two
sides are line-aligned and correlated in length. Seeded and deterministic; generated in chunks
of 100k pairs (numpy, about 210 bytes a pair on disk). A folder that holds a finished corpus of
the same parameters (``corpus.json``) is reused.

    python benchmarks/data_scale.py [--sizes 1000000,5000000,20000000] [--workers 1,2]
        [--workdir /tmp/catsmt-data-scale] [--out benchmarks/results/data-scale-cpu-DATE.json]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# -- the synthetic corpus --------------------------------------------------------------------
GENERATOR_VERSION = 1
SEED = 0
PIVOT = "eng"
#: Language -> (consonants, vowels) of its made-up words, and its share of the training pairs.
ALPHABETS = {
    "eng": ("bcdfghjklmnprstvwz", "aeiou"),
    "lga": ("bdgklmnrst", "aeiouy"),
    "lgb": ("bcdfghklmnprstvz", "aeiouäöü"),
    "lgc": ("hjkmnprstw", "aiuāīū"),
    "lgd": ("бвгдзклмнпрстф", "аеиоуы"),
}
SHARES = {"lga": 8, "lgb": 4, "lgc": 2, "lgd": 1}
HELD_OUT = {"valid": 500, "test": 500}
WORDS = 4000  # lexicon size per language
MIN_WORDS, MAX_WORDS = 5, 40  # words per source sentence
SUBSTITUTE, DROP = 0.10, 0.05  # noise of the word-for-word translation
CHUNK = 100_000  # pairs generated and written at a time
TEXT_BYTES_PER_PAIR = 210  # both sides (206 measured at 1M); for the disk-space check
CACHE_BYTES_PER_PAIR = 200  # one binarized cache (152 measured at 100k); for the same check
MARKER = "corpus.json"
LOG_KEPT = 200  # log records kept in the result from the start and from the end of a run


@dataclass(frozen=True)
class Lexicon:
    """A language's words as one flat byte array: word ``r`` (frequency rank) is
    ``data[offsets[r]:offsets[r] + lengths[r]]``, its UTF-8 bytes followed by a space."""

    data: np.ndarray  # (total bytes,) uint8
    offsets: np.ndarray  # (WORDS,) int32
    lengths: np.ndarray  # (WORDS,) int32


def make_lexicon(lang: str, seed: int) -> Lexicon:
    """``WORDS`` distinct made-up words of ``lang`` of one to four syllables, sorted by length
    (rank 0, the most frequent word, is one of the shortest)."""
    consonants, vowels = ALPHABETS[lang]
    rng = np.random.default_rng(np.random.SeedSequence([seed, list(ALPHABETS).index(lang), 0xC0DE]))
    words: dict[str, None] = {}  # insertion-ordered set
    while len(words) < WORDS:
        syllables = int(rng.integers(1, 5))
        word = "".join(
            consonants[rng.integers(len(consonants))]
            + vowels[rng.integers(len(vowels))]
            + (consonants[rng.integers(len(consonants))] if rng.random() < 0.3 else "")
            for _ in range(syllables)
        )
        words[word] = None
    encoded = [w.encode() + b" " for w in sorted(words, key=len)]
    lengths = np.array([len(b) for b in encoded], dtype=np.int32)
    offsets = (np.cumsum(lengths) - lengths).astype(np.int32)
    return Lexicon(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets, lengths)


def zipf_cdf(n: int, s: float = 1.0, q: float = 2.7) -> np.ndarray:
    """Cumulative Zipf-Mandelbrot probabilities ``p_r ∝ (r + q)^-s`` of ranks ``r = 1..n``
    (entry ``i`` is the probability of a rank up to ``i + 1``)."""
    cdf: np.ndarray = np.cumsum(np.power(np.arange(1, n + 1, dtype=np.float64) + q, -s))
    return np.asarray(cdf / cdf[-1])


def render(lexicon: Lexicon, words: np.ndarray, lengths: np.ndarray) -> bytes:
    """Sentences as text lines: ``words`` (word ranks of all sentences, concatenated) cut into
    sentences of ``lengths`` words, words joined by a space, each line ending in a newline."""
    sizes = lexicon.lengths[words]  # (tokens,) bytes of each word and its space
    ends = np.cumsum(sizes, dtype=np.int64)
    # Byte j of the output is byte (j - start of its word in the output) of the word's entry.
    index = np.arange(int(ends[-1]), dtype=np.int32)
    index += np.repeat(lexicon.offsets[words] - (ends - sizes).astype(np.int32), sizes)
    out = lexicon.data[index]
    out[ends[np.cumsum(lengths) - 1] - 1] = ord("\n")  # the last word's space ends the line
    return out.tobytes()


def draw_pairs(
    rng: np.random.Generator, n: int, cdf: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` sentence pairs as word ranks: source words and lengths, target words and lengths."""
    src_len = rng.integers(MIN_WORDS, MAX_WORDS + 1, size=n)
    src = np.searchsorted(cdf, rng.random(int(src_len.sum())), side="right").astype(np.int32)
    tgt = src.copy()
    substitute = rng.random(len(src)) < SUBSTITUTE
    tgt[substitute] = np.searchsorted(cdf, rng.random(int(substitute.sum())), side="right")
    starts = np.cumsum(src_len) - src_len
    keep = rng.random(len(src)) >= DROP
    keep[starts] = True  # every target keeps its first word
    tgt_len = np.add.reduceat(keep.astype(np.int64), starts)
    return src, src_len, tgt[keep], tgt_len


def corpus_params(train_pairs: int, seed: int = SEED) -> dict[str, Any]:
    """What identifies a generated corpus (its marker file holds these)."""
    total = sum(SHARES.values())
    sizes = {lang: train_pairs * share // total for lang, share in SHARES.items()}
    sizes[max(SHARES, key=SHARES.__getitem__)] += train_pairs - sum(sizes.values())
    return {
        "generator": GENERATOR_VERSION, "seed": seed, "pivot": PIVOT, "train": sizes, **HELD_OUT,
        "words": WORDS, "sentence_words": [MIN_WORDS, MAX_WORDS], "substitute": SUBSTITUTE,
        "drop": DROP, "chunk": CHUNK,
    }


def dir_bytes(path: Path) -> int:
    """Bytes of all files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def generate_corpus(directory: Path, train_pairs: int, seed: int = SEED) -> dict[str, Any]:
    """Write the synthetic corpus of ``train_pairs`` training pairs to ``directory``, unless it
    already holds a finished one of the same parameters.

    The corpus is written into a sibling temporary folder and renamed into place, so an
    interrupted run leaves no folder that looks finished. A folder with a marker of other
    parameters is replaced.

    Returns:
        The marker: the parameters plus ``bytes`` on disk and ``generate_s``, and ``reused``.

    Raises:
        SystemExit: ``directory`` exists, is not empty and is not a generated corpus.
    """
    params = corpus_params(train_pairs, seed)
    marker = directory / MARKER
    if marker.is_file():
        recorded = json.loads(marker.read_text())
        if {k: recorded.get(k) for k in params} == params:
            return {**recorded, "reused": True}
        shutil.rmtree(directory)
    elif directory.exists() and any(directory.iterdir()):
        raise SystemExit(f"{directory} exists and is not a generated corpus (no {MARKER}); remove it")
    directory.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.partial-"))
    try:
        lexicons = {lang: make_lexicon(lang, seed) for lang in ALPHABETS}
        cdf = zipf_cdf(WORDS)
        for i, lang in enumerate(SHARES):
            counts = {"train": params["train"][lang], **HELD_OUT}
            for j, (split, n) in enumerate(counts.items()):
                stem = tmp / f"{split}.{PIVOT}-{lang}"
                with open(f"{stem}.{PIVOT}", "wb") as src_file, open(f"{stem}.{lang}", "wb") as tgt_file:
                    for k, start in enumerate(range(0, n, CHUNK)):
                        rng = np.random.default_rng(np.random.SeedSequence([seed, i, j, k]))
                        src, src_len, tgt, tgt_len = draw_pairs(rng, min(CHUNK, n - start), cdf)
                        src_file.write(render(lexicons[PIVOT], src, src_len))
                        tgt_file.write(render(lexicons[lang], tgt, tgt_len))
        done = {**params, "bytes": dir_bytes(tmp), "generate_s": round(time.perf_counter() - t0, 2)}
        (tmp / MARKER).write_text(json.dumps(done, indent=1))
        tmp.chmod(0o755)
        if directory.exists():  # empty (checked above)
            directory.rmdir()
        os.rename(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {**done, "reused": False}


# -- one measured preparation ----------------------------------------------------------------
#: The measured process: prepare_data and one batch, logging at INFO to stderr; prints its
#: own timings and log records as one JSON line on stdout. argv: corpus dir, cache dir, workers.
CHILD = r"""
import dataclasses, json, logging, sys, time
t0 = time.perf_counter()
records = []
class Keep(logging.Handler):
    def emit(self, r):
        records.append({"t_s": round(time.perf_counter() - t0, 3), "logger": r.name,
                        "level": r.levelname, "message": r.getMessage()})
logging.basicConfig(level=logging.INFO, format="%(relativeCreated)9.0f ms %(name)s %(levelname)s: %(message)s")
logging.getLogger().addHandler(Keep())
from catsmt.config import load_config
from catsmt.data import prepare_data
from catsmt.data.config import DataConfig
corpus, cache, workers = sys.argv[1:4]
has_workers = any(f.name == "workers" for f in dataclasses.fields(DataConfig))
overrides = [f"data.dir={corpus}", f"data.cache_dir={cache}", "data.vocab_size=8000"]
if has_workers:
    overrides.append(f"data.workers={workers}")
cfg = load_config(None, overrides)
t1 = time.perf_counter()
data = prepare_data(cfg.data)
t2 = time.perf_counter()
sampler = data.sampler({lang: 1 / len(data.langs) for lang in data.langs}, seed=1)
batch = sampler.next_batch()
t3 = time.perf_counter()
hwm = next((int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")), None)
print(json.dumps({
    "workers_applied": has_workers, "overrides": overrides, "import_s": t1 - t0,
    "prepare_start_s": t1 - t0, "prepare_s": t2 - t1, "first_batch_s": t3 - t2,
    "train_sizes": data.sizes("train"), "skipped": data.skipped, "vocab_size": data.vocab.size,
    "batch_tokens": batch.n_tokens, "vmhwm_kb": hwm, "log": records,
}))
"""


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from the parent ids in /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in (...) may hold spaces
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def _kb(path: str, field: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_memory(pid: int) -> tuple[int, int]:
    """Summed VmRSS and Pss (KiB) of ``pid`` and its descendants now."""
    tree = _descendants(pid)
    rss = sum(_kb(f"/proc/{p}/status", "VmRSS:") for p in tree)
    pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in tree)
    return rss, pss


def measure(corpus: Path, cache: Path, workers: int, log_path: Path) -> dict[str, Any]:
    """Run :data:`CHILD` once and measure it.

    Returns:
        ``wall_s``, ``peak_rss_mb`` (``ru_maxrss``), ``tree_peak_rss_mb``, ``tree_peak_pss_mb``,
        the child's own report (timings, sizes, log records), and ``error`` if it failed.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    load = round(os.getloadavg()[0], 2)
    with open(log_path, "wb") as stderr, tempfile.TemporaryFile() as stdout:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(corpus), str(cache), str(workers)],
            stdout=stdout, stderr=stderr, env=env, cwd=ROOT,
        )
        tree_rss = tree_pss = 0
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                rss, pss = _tree_memory(proc.pid)
                tree_rss, tree_pss = max(tree_rss, rss), max(tree_pss, pss)
                time.sleep(0.1)
        except BaseException:  # Ctrl-C: do not leave a preparation running
            proc.kill()
            os.waitpid(proc.pid, 0)
            raise
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        stdout.seek(0)
        report_line = stdout.read().decode(errors="replace").strip().splitlines()
    result: dict[str, Any] = {
        "workers": workers,
        "loadavg_1min_before": load,  # other jobs on the machine disturb the wall times
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        "tree_peak_rss_mb": round(tree_rss / 1024, 1),
        "tree_peak_pss_mb": round(tree_pss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    }
    if proc.returncode != 0:
        code = proc.returncode
        result["error"] = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        result["stderr_tail"] = log_path.read_text(errors="replace")[-3000:]
        return result
    report = json.loads(report_line[-1])
    result.update(report)
    result.update(_phases(report))
    pairs = sum(report["train_sizes"].values()) + sum(report["skipped"].values())
    result["pairs"] = pairs
    result["pairs_kept"] = sum(report["train_sizes"].values())
    if result.get("binarize_s"):
        result["pairs_per_s"] = round(pairs / result["binarize_s"], 1)
    result["prepare_pairs_per_s"] = round(pairs / report["prepare_s"], 1)
    if len(report["log"]) > 2 * LOG_KEPT:  # progress lines: keep the start and the end
        result["log_dropped"] = len(report["log"]) - 2 * LOG_KEPT
        result["log"] = report["log"][:LOG_KEPT] + report["log"][-LOG_KEPT:]
    return result


_LOGGED_TIME = re.compile(r"\bin ([0-9]+(?:\.[0-9]+)?) ?s\b")


def _phases(report: dict[str, Any]) -> dict[str, Any]:
    """``before_binarize_s`` and ``binarize_s`` from the child's log records (see the module
    docstring); None where no record mentions binarizing. ``binarize_logged_s`` is the largest
    time the binarizing records state themselves (``... in X s``), where they state one."""
    start, end = report["prepare_start_s"], report["prepare_start_s"] + report["prepare_s"]
    mentions = [
        r for r in report["log"]
        if "binariz" in r["message"].lower() and start <= r["t_s"] <= end + 0.01  # t_s is rounded
    ]
    if not mentions:
        return {"binarize_s": None, "before_binarize_s": None, "binarize_logged_s": None}
    logged = [float(m.group(1)) for r in mentions if (m := _LOGGED_TIME.search(r["message"]))]
    first = mentions[0]["t_s"]
    return {
        "binarize_s": round(max(end - first, 1e-3), 3),
        "before_binarize_s": round(first - start, 3),
        "binarize_logged_s": max(logged) if logged else None,
    }


def cache_digests(cache: Path) -> dict[str, str]:
    """sha256 of every file of the binarized entries (``data-*/``) and vocabularies of ``cache``."""
    files = [p for p in cache.glob("data-*/**/*") if p.is_file()] + list(cache.glob("spm-*.model"))
    digests = {}
    for path in sorted(files):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        digests[str(path.relative_to(cache))] = h.hexdigest()
    return digests


def measure_size(pairs: int, workers: list[int], workdir: Path) -> dict[str, Any]:
    """Generate (or reuse) the corpus of ``pairs`` and measure its cold and warm starts."""
    corpus_dir = workdir / f"corpus-{pairs}"
    print(f"[{pairs:,} pairs] corpus {corpus_dir} ...", flush=True)
    corpus = generate_corpus(corpus_dir, pairs)
    how = "reused" if corpus["reused"] else f"generated in {corpus['generate_s']:.1f} s"
    print(f"[{pairs:,} pairs] corpus {how}, {corpus['bytes'] / 1e9:.2f} GB on disk", flush=True)
    out: dict[str, Any] = {"pairs": pairs, "corpus": {"dir": str(corpus_dir), **corpus}, "cold": []}
    digests = []
    for i, w in enumerate(workers):
        cache = workdir / f"cache-{pairs}-w{w}"
        shutil.rmtree(cache, ignore_errors=True)
        run = measure(corpus_dir, cache, w, workdir / f"cold-{pairs}-w{w}.log")
        run["cache_bytes"] = dir_bytes(cache) if cache.exists() else 0
        digests.append(None if "error" in run else cache_digests(cache))
        out["cold"].append(run)
        _progress(pairs, f"cold, workers={w}", run)
        if i == 0 and "error" not in run:
            out["warm"] = measure(corpus_dir, cache, w, workdir / f"warm-{pairs}-w{w}.log")
            _progress(pairs, f"warm, workers={w}", out["warm"])
        if i > 0:
            shutil.rmtree(cache, ignore_errors=True)
    first = out["cold"][0].get("pairs_per_s")
    for run in out["cold"]:
        run["binarize_speedup"] = round(run["pairs_per_s"] / first, 3) if first and run.get("pairs_per_s") else None
    built = [d for d in digests if d is not None]
    if len(workers) > 1 and len(built) == len(digests):
        out["identical_caches"] = all(d == built[0] for d in built[1:])
        out["cache_differences"] = sorted(
            {k for d in built[1:] for k in set(d) | set(built[0]) if d.get(k) != built[0].get(k)}
        )[:20]
    else:
        out["identical_caches"] = None  # one worker count, or a build failed
    shutil.rmtree(workdir / f"cache-{pairs}-w{workers[0]}", ignore_errors=True)
    return out


def _progress(pairs: int, case: str, run: dict[str, Any]) -> None:
    if "error" in run:
        print(f"[{pairs:,} pairs] {case}: FAILED ({run['error']})", flush=True)
        return
    print(
        f"[{pairs:,} pairs] {case}: {run['wall_s']:.1f} s, peak RSS {run['peak_rss_mb']:.0f} MB "
        f"(all processes: RSS {run['tree_peak_rss_mb']:.0f} MB, PSS {run['tree_peak_pss_mb']:.0f} MB)"
        + (f", binarize {run['binarize_s']:.1f} s" if run.get("binarize_s") else ""),
        flush=True,
    )


# -- the machine, the table ------------------------------------------------------------------
def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def describe_machine() -> dict[str, Any]:
    """CPU, RAM, library versions and the catsmt commit (with uncommitted changes under src/)."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    versions: dict[str, str | None] = {}
    for package in ("numpy", "sentencepiece", "torch"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    changes = _git("status", "--porcelain", "--", "src")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model.group(1) if model else platform.processor(),
        "ram_gb": round(_kb("/proc/meminfo", "MemTotal:") / 2**20, 1),
        "loadavg_1min": os.getloadavg()[0],
        "python": platform.python_version(),
        **versions,
        "commit": _git("rev-parse", "HEAD"),
        "src_changes": None if changes is None else changes.splitlines(),
    }


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


def _gb(mb: float | None) -> str:
    return "" if mb is None else f"{mb / 1024:.2f} GB"


def _cold_cells(run: dict[str, Any], same: str) -> str:
    if "error" in run:
        return f"failed: {run['error']} | {_gb(run['peak_rss_mb'])} | | | | |"
    throughput = ""
    if run.get("pairs_per_s"):
        throughput = f"{run['pairs_per_s']:,.0f} pairs/s"
        if run.get("binarize_speedup") not in (None, 1.0):
            throughput += f" ({run['binarize_speedup']:.2f}x)"
    return (
        f"{_seconds(run['wall_s'])} | {_gb(run['peak_rss_mb'])} | {_gb(run['tree_peak_pss_mb'])} | "
        f"{_seconds(run.get('before_binarize_s'))} | {_seconds(run.get('binarize_s'))} | {throughput} | {same}"
    )


def _warm_cells(warm: dict[str, Any] | None) -> str:
    if warm is None:
        return " |"
    if "error" in warm:
        return f"failed: {warm['error']} |"
    return f"{_seconds(warm['wall_s'])} | {_gb(warm['peak_rss_mb'])}"


def format_table(result: dict[str, Any]) -> str:
    """The measurements as a markdown table, one row per size and worker count (the warm start
    on the first one's row; the speed-up of binarizing is against that row)."""
    lines = [
        "| pairs | workers | cold wall | peak RSS | all processes (PSS) | before binarize | binarize "
        "| binarize throughput | same cache | warm wall | warm RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for size in result["sizes"]:
        for i, run in enumerate(size["cold"]):
            workers = run["workers"] if run.get("workers_applied", True) else f"{run['workers']} (no option)"
            same = "" if i == 0 or size["identical_caches"] is None else ("yes" if size["identical_caches"] else "NO")
            warm = _warm_cells(size.get("warm")) if i == 0 else " |"
            lines.append(f"| {size['pairs']:,} | {workers} | {_cold_cells(run, same)} | {warm} |")
    return "\n".join(lines)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_ints, default=_ints("1000000,5000000,20000000"), help="training pairs of each corpus, comma-separated")
    parser.add_argument("--workers", type=_ints, default=[1, 2], help="data.workers of the cold runs, comma-separated (the first one's cache is used warm)")
    parser.add_argument("--workdir", default="/tmp/catsmt-data-scale", help="corpora (kept, reused) and caches (deleted after each size)")
    today = datetime.date.today().isoformat()
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / f"data-scale-cpu-{today}.json"), help="the JSON result (written after every size)")
    args = parser.parse_args(argv)
    if not args.sizes or not args.workers or min(args.sizes) < 1 or min(args.workers) < 0:
        parser.error("--sizes needs positive numbers and --workers numbers >= 0")
    if len(set(args.sizes)) < len(args.sizes) or len(set(args.workers)) < len(args.workers):
        parser.error("--sizes and --workers take each number once")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    need = sum(
        CACHE_BYTES_PER_PAIR * n * min(2, len(args.workers))
        + (0 if (workdir / f"corpus-{n}" / MARKER).is_file() else TEXT_BYTES_PER_PAIR * n)
        for n in args.sizes
    )
    free = shutil.disk_usage(workdir).free
    if need > free:
        raise SystemExit(f"{workdir} has {free / 1e9:.1f} GB free; these sizes need about {need / 1e9:.1f} GB")
    result: dict[str, Any] = {
        "benchmark": "data_scale",
        "command": "python benchmarks/data_scale.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "settings": {
            "vocab_size": 8000, "workers": args.workers, "shares": SHARES,
            "corpus": {k: v for k, v in corpus_params(0).items() if k != "train"},
        },
        "sizes": [],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for pairs in args.sizes:
        result["sizes"].append(measure_size(pairs, args.workers, workdir))
        out.write_text(json.dumps(result, indent=1))  # after every size: a long run keeps what it has
    print(f"wrote {out}\n")
    print(format_table(result))


if __name__ == "__main__":
    main()
