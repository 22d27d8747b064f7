"""Benchmark recipes: download (or generate) a multilingual corpus and write it in the raw layout.

Every recipe writes, into one output directory ``OUT``, English-centric data for each language
``x`` in both directions, as fairseq-style raw text::

    OUT/{split}.eng-{x}.eng   OUT/{split}.eng-{x}.{x}    eng -> x  (one-to-many)
    OUT/{split}.{x}-eng.{x}   OUT/{split}.{x}-eng.eng    x -> eng  (many-to-one)
    OUT/stats.json            recipe, options, pairs per language and split, low/high groups

The two directions hold the same sentence pairs, line for line, so ``read_corpus`` finds the
files named in the task's own direction for ``o2m`` and ``m2o``. A split with no pairs gets no
files. Downloads are kept (checksummed) in ``OUT/.downloads`` unless ``cache`` says otherwise.

Held-out sets of the real-data recipes are chosen **by English sentence across all languages at
once** (:func:`split_by_pivot`), so no valid or test English sentence is in any language's
training data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import logging
import math
import random
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import catsmt
from catsmt.config_fields import option
from catsmt.data.config import DataConfig
from catsmt.data.corpus import FAIRSEQ_FILE, SPLITS, read_corpus, read_parallel
from catsmt.data.download import MIRRORED_PREFIX, fetch
from catsmt.data.errors import DataError
from catsmt.files import write_atomic

log = logging.getLogger(__name__)

PIVOT = "eng"
DOWNLOADS_DIR = ".downloads"
STATS_FILE = "stats.json"
LAYOUT = (
    "{split}.eng-{x}.eng + {split}.eng-{x}.{x} (eng->x) and "
    "{split}.{x}-eng.{x} + {split}.{x}-eng.eng (x->eng), the same pairs in both"
)

Pairs = list[tuple[str, str]]  # (x sentence, English sentence)
LangSplits = dict[str, dict[str, Pairs]]  # language -> split -> pairs

# Characters that str.splitlines() (and so many tools) treat as line breaks; inside a sentence
# they would break the line alignment of whoever reads our files next.
_LINE_BREAK = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


# ---------------------------------------------------------------------------------------------
# Options: one dataclass per recipe, defaults in one place


TATOEBA_LOW = ("aze", "bel", "glg", "ukr")
TATOEBA_HIGH = ("tur", "rus", "por", "ces")
TATOEBA_DIRS = {
    "aze": "aze-eng",
    "bel": "bel-eng",
    "glg": "eng-glg",
    "ukr": "eng-ukr",
    "tur": "eng-tur",
    "rus": "eng-rus",
    "por": "eng-por",
    "ces": "ces-eng",
}
WMT_LANGS = ("deu", "ces", "fra", "fin", "tur", "hin", "lav", "est", "ron", "kaz")


@dataclass
class TatoebaOptions:
    """Options of ``tatoeba-related``."""

    langs: list[str] = option(list(TATOEBA_LOW + TATOEBA_HIGH), "languages to build (of the 8)")
    valid: int = option(200, "valid pairs per language, at most `max_valid_share` of its pairs")
    test: int = option(500, "test pairs per language, at most `max_test_share` of its pairs")
    max_valid_share: float = option(0.1, "cap on valid as a share of a language's pairs (glg: 101)")
    max_test_share: float = option(0.2, "cap on test as a share of a language's pairs (glg: 203)")
    train_cap: dict[str, int] = option({"ukr": 2500}, "training pairs kept at most, per language")
    seed: int = option(1, "seed of the split")

    def validate(self) -> None:
        _check_split_options(self, TATOEBA_DIRS)


#: Training caps that give tatoeba-related the imbalance of TED-8 "related" (Qi et al., 2018;
#: the paper's Table 1): the TED sizes divided by 12 (aze 5,946 -> 500, bel 4,509 -> 375,
#: slk 61,470 -> 5,000 for its stand-in ukr), the rest as Tatoeba has them (glg 711 of TED's
#: 10,017 / 12; tur, rus, por, ces 12.5-18.6k, close to TED's / 12).
TED8_CAPS: dict[str, int] = {"aze": 500, "bel": 375, "ukr": 5000}


@dataclass
class TatoebaTed8Options(TatoebaOptions):
    """tatoeba-related with the training caps of :data:`TED8_CAPS`."""

    train_cap: dict[str, int] = option(TED8_CAPS, "training pairs kept at most, per language (TED-8 related sizes / 12)")


@dataclass
class WmtOptions:
    """Options of ``wmt-news``."""

    langs: list[str] = option(list(WMT_LANGS), "languages to build (of the 10)")
    valid: int = option(500, "valid pairs per language, at most `max_valid_share` of its pairs")
    test: int = option(1000, "test pairs per language, at most `max_test_share` of its pairs")
    max_valid_share: float = option(0.1, "cap on valid as a share of a language's pairs")
    max_test_share: float = option(0.2, "cap on test as a share of a language's pairs")
    train_cap: dict[str, int] = option({}, "training pairs kept at most, per language")
    seed: int = option(1, "seed of the split")
    low_threshold: int = option(10000, "languages with fewer training pairs form the 'low' group")

    def validate(self) -> None:
        _check_split_options(self, WMT_LANGS)


#: Most pairs per language and split that ``synthetic`` draws: its grammar has about 1.4e8
#: sentences, most of them rare, so a million distinct ones take ~10 s and far more take hours.
SYNTHETIC_MAX_PAIRS = 1_000_000


@dataclass
class SyntheticOptions:
    """Options of ``synthetic``."""

    sizes: list[int] = option(
        [2000, 2000, 200, 200], "training pairs of each language (one per language)"
    )
    valid: int = option(100, "valid pairs per language")
    test: int = option(100, "test pairs per language")
    seed: int = option(1, "seed of the vocabularies and sentences")
    low_threshold: int = option(1000, "languages with fewer training pairs form the 'low' group")

    def validate(self) -> None:
        if not 1 <= len(self.sizes) <= 26:
            raise DataError(f"sizes must list 1 to 26 languages, got {len(self.sizes)}")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in self.sizes):
            raise DataError(f"sizes must be integers, got {self.sizes}")
        for name, value in [("sizes", min(self.sizes)), ("valid", self.valid), ("test", self.test)]:
            if value < 1:
                raise DataError(f"{name} must be >= 1, got {value}")
        for name, value in [("sizes", max(self.sizes)), ("valid", self.valid), ("test", self.test)]:
            if value > SYNTHETIC_MAX_PAIRS:
                raise DataError(
                    f"{name} must be <= {SYNTHETIC_MAX_PAIRS} pairs per language, got {value} "
                    "(synthetic's grammar runs short of distinct sentences beyond that)"
                )


@dataclass
class TedOptions:
    """Options of ``ted``."""

    source: str = option(
        "", "directory in the TED layout: xxx_eng/ted-{train,dev,test}.orig.{xxx,eng}"
    )
    langs: list[str] = option([], "languages to copy; empty = every xxx_eng directory found")
    low_threshold: int = option(10000, "languages with fewer training pairs form the 'low' group")

    def validate(self) -> None:
        if not self.source:
            raise DataError(
                "recipe 'ted' needs the option source=DIR (a directory in the TED layout)"
            )


def _check_split_options(opts: TatoebaOptions | WmtOptions, known: Collection[str]) -> None:
    for lang in opts.langs:
        if lang not in known:
            raise DataError(f"unknown language '{lang}' in langs; valid: {', '.join(known)}")
    if len(set(opts.langs)) != len(opts.langs) or not opts.langs:
        raise DataError(f"langs must list distinct languages, got {opts.langs}")
    for lang, cap in opts.train_cap.items():
        if lang not in opts.langs or cap < 1:
            raise DataError(f"train_cap: '{lang}: {cap}' needs a built language and a cap >= 1")
    if opts.valid < 0 or opts.test < 0:
        raise DataError(f"valid and test must be >= 0, got {opts.valid} and {opts.test}")
    for share in (opts.max_valid_share, opts.max_test_share):
        if not 0.0 <= share <= 0.5:
            raise DataError(f"max_valid_share and max_test_share must be in [0, 0.5], got {share}")


# ---------------------------------------------------------------------------------------------
# Splitting by English sentence


def held_out_sizes(
    n_pairs: int, valid: int, test: int, max_valid_share: float, max_test_share: float
) -> tuple[int, int]:
    """Valid and test sizes of a language with ``n_pairs`` pairs: the requested ones, capped.

    Returns:
        ``(min(valid, floor(max_valid_share * n)), min(test, floor(max_test_share * n)))``.
    """
    return (
        min(valid, math.floor(max_valid_share * n_pairs)),
        min(test, math.floor(max_test_share * n_pairs)),
    )


def split_by_pivot(
    pairs: dict[str, Pairs], sizes: dict[str, tuple[int, int]], seed: int
) -> tuple[LangSplits, dict[str, int]]:
    """Split every language's pairs into train / valid / test by English sentence, jointly.

    All distinct English sentences are put in one seeded random order. Languages are taken from
    the smallest to the largest; each walks its English sentences in that order. A sentence not yet
    assigned goes to the language's test set until that holds ``test`` pairs, then to valid
    until it holds ``valid``, then to train, and keeps that assignment for every language after.
    A sentence that a smaller language already holds out joins this language's set of the same
    name while it has room, and is dropped otherwise (it cannot be trained on). Hence no valid
    or test English sentence is in any training pair of any language, the smallest languages
    get their full held-out sets, and sentences shared by several languages tend to be held out
    in all of them (multi-way test sets). All translations of an English sentence stay together,
    so a set may exceed its size by a few pairs.

    Args:
        pairs: language -> distinct ``(x, English)`` pairs.
        sizes: language -> ``(valid pairs, test pairs)``.
        seed: seed of the order.

    Returns:
        language -> split -> pairs in that order, and language -> pairs dropped because a smaller
        language held their English sentence out after this language's set was full.
    """
    english = sorted({e for lang_pairs in pairs.values() for _, e in lang_pairs})
    random.Random(seed).shuffle(english)
    rank = {e: i for i, e in enumerate(english)}
    assigned: dict[str, str] = {}
    result: LangSplits = {}
    dropped: dict[str, int] = {}
    for lang in sorted(pairs, key=lambda lang: (len(pairs[lang]), lang)):
        by_english: dict[str, Pairs] = {}
        for x, e in pairs[lang]:
            by_english.setdefault(e, []).append((x, e))
        valid_size, test_size = sizes[lang]
        room = {"valid": valid_size, "test": test_size}
        splits: dict[str, Pairs] = {split: [] for split in SPLITS}
        dropped[lang] = 0
        for e in sorted(by_english, key=rank.__getitem__):
            split = assigned.get(e)
            if split is None:
                split = next((s for s in ("test", "valid") if len(splits[s]) < room[s]), "train")
                assigned[e] = split
            if split == "train" or len(splits[split]) < room[split]:
                splits[split].extend(by_english[e])
            else:
                dropped[lang] += len(by_english[e])
        result[lang] = splits
    return dict(sorted(result.items())), dict(sorted(dropped.items()))


def _one_line(sentence: str) -> str:
    return _LINE_BREAK.sub(" ", sentence)


def clean_pairs(xs: list[str], engs: list[str]) -> tuple[Pairs, dict[str, int]]:
    """Aligned lines as distinct, non-empty pairs in their first order.

    Line-break characters inside a sentence (U+0085, U+2028, ...) become spaces.

    Returns:
        The pairs, and the counts ``lines``, ``empty`` (dropped: a side is blank) and
        ``duplicate`` (dropped: an exact repeat of an earlier pair).
    """
    seen: set[tuple[str, str]] = set()
    out: Pairs = []
    empty = 0
    for x, e in zip(xs, engs, strict=True):
        x, e = _one_line(x), _one_line(e)
        if not x.strip() or not e.strip():
            empty += 1
        elif (x, e) not in seen:
            seen.add((x, e))
            out.append((x, e))
    return out, {"lines": len(xs), "empty": empty, "duplicate": len(xs) - empty - len(out)}


# ---------------------------------------------------------------------------------------------
# The recipes


@dataclass
class _Downloads:
    """Fetches files of the OPUS-MT test-set repository into a cache, recording what it used."""

    cache: Path
    mirror: str | Path | None
    used: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def get(self, rel: str) -> Path:
        url, sha256 = OPUS_URL + rel, OPUS_SHA256[rel]
        path = fetch(url, sha256, self.cache / url[len(MIRRORED_PREFIX) :], self.mirror)
        self.used.append({"url": url, "sha256": sha256})
        return path

    def read_pairs(self, x_rel: str, eng_rel: str) -> tuple[list[str], list[str]]:
        return read_parallel(self.get(x_rel), self.get(eng_rel), allow_empty=True)


@dataclass
class _Built:
    """What a recipe produced, before it is written."""

    data: LangSplits
    groups: dict[str, str]  # language -> "low" | "high"
    details: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)


def _by_threshold(data: LangSplits, threshold: int) -> dict[str, str]:
    return {lang: "low" if len(s["train"]) < threshold else "high" for lang, s in data.items()}


def _split_and_cap(
    pairs: dict[str, Pairs],
    details: dict[str, dict[str, int]],
    opts: TatoebaOptions | WmtOptions,
) -> LangSplits:
    sizes = {
        lang: held_out_sizes(
            len(p), opts.valid, opts.test, opts.max_valid_share, opts.max_test_share
        )
        for lang, p in pairs.items()
    }
    data, dropped = split_by_pivot(pairs, sizes, opts.seed)
    for lang, splits in data.items():
        details[lang]["dropped_held_out_elsewhere"] = dropped[lang]
        details[lang]["train_before_cap"] = len(splits["train"])
        if lang in opts.train_cap:
            splits["train"] = splits["train"][: opts.train_cap[lang]]
    return data


def _tatoeba(opts: TatoebaOptions, downloads: _Downloads) -> _Built:
    """The 8 Tatoeba pairs, deduplicated, split jointly by English sentence, ukr capped."""
    pairs: dict[str, Pairs] = {}
    details: dict[str, dict[str, int]] = {}
    for lang in opts.langs:
        base = (
            f"datasets/helsinki_nlp/tatoeba/testsets/{TATOEBA_DIRS[lang]}/tatoeba-test-v2021-08-07."
        )
        pairs[lang], details[lang] = clean_pairs(*downloads.read_pairs(base + lang, base + PIVOT))
    data = _split_and_cap(pairs, details, opts)
    groups = {lang: "low" if lang in TATOEBA_LOW else "high" for lang in data}
    return _Built(data, groups, details)


def wmt_files(lang: str) -> list[tuple[str, str]]:
    """The ``(x file, English file)`` paths of the WMT news sets of ``lang`` (both directions)."""
    files = []
    for rel in sorted(OPUS_SHA256):
        parts = rel.split("/")
        if (
            parts[0] == "testsets"
            and parts[1] in (f"{PIVOT}-{lang}", f"{lang}-{PIVOT}")
            and parts[2].startswith("news")
            and parts[2].endswith(f".{lang}")
        ):
            files.append((rel, rel[: -len(lang)] + PIVOT))
    return files


def _wmt_news(opts: WmtOptions, downloads: _Downloads) -> _Built:
    """All years of each language pooled (from both the eng-x and x-eng folders), deduplicated
    and split jointly by English sentence like Tatoeba. Test is a fixed number of pairs rather
    than the newest year, since half of the languages have a single year."""
    pairs: dict[str, Pairs] = {}
    details: dict[str, dict[str, int]] = {}
    for lang in opts.langs:
        xs: list[str] = []
        engs: list[str] = []
        for x_rel, eng_rel in wmt_files(lang):
            x_lines, eng_lines = downloads.read_pairs(x_rel, eng_rel)
            xs += x_lines
            engs += eng_lines
        pairs[lang], details[lang] = clean_pairs(xs, engs)
    data = _split_and_cap(pairs, details, opts)
    return _Built(data, _by_threshold(data, opts.low_threshold), details)


# A small English-like grammar: NP verb NP [adverb], NP = [determiner] [adjective] noun,
# which gives sentences of 3 to 8 words.
_DETS = ["the", "a", "this", "every"]
_ADJS = [
    "small",
    "big",
    "red",
    "old",
    "young",
    "happy",
    "quiet",
    "green",
    "cold",
    "bright",
    "slow",
    "brave",
]
_NOUNS = [
    "cat",
    "dog",
    "house",
    "river",
    "teacher",
    "child",
    "bird",
    "city",
    "garden",
    "boat",
    "letter",
    "tree",
    "farmer",
    "window",
    "song",
    "horse",
    "king",
    "book",
    "road",
    "friend",
]
_VERBS = [
    "sees",
    "finds",
    "likes",
    "paints",
    "follows",
    "builds",
    "carries",
    "watches",
    "hears",
    "helps",
    "visits",
    "remembers",
]
_ADVS = ["today", "again", "slowly", "often", "quietly", "there"]
_WORDS = _DETS + _ADJS + _NOUNS + _VERBS + _ADVS
# Word orders of the synthetic languages, over (subject, verb, object); the adverb stays last.
_ORDERS = ["svo", "sov", "vso", "osv"]
_SUFFIXES = ["", "a", "en", "u", "is", "o"]


# (subject noun phrase, verb, object noun phrase, [adverb] or [])
_Sentence = tuple[list[str], str, list[str], list[str]]


def _english_sentence(rng: random.Random) -> _Sentence:
    def noun_phrase() -> list[str]:
        det = [rng.choice(_DETS)] if rng.random() < 0.7 else []
        adj = [rng.choice(_ADJS)] if rng.random() < 0.5 else []
        return det + adj + [rng.choice(_NOUNS)]

    adverb = [rng.choice(_ADVS)] if rng.random() < 0.4 else []
    return noun_phrase(), rng.choice(_VERBS), noun_phrase(), adverb


def _english(sentence: _Sentence) -> str:
    subject, verb, obj, adverb = sentence
    return " ".join([*subject, verb, *obj, *adverb])


def _draw(rng: random.Random, size: int, taken: set[str]) -> list[_Sentence]:
    """``size`` sentences whose English is distinct and not in ``taken`` (which grows)."""
    sentences: list[_Sentence] = []
    for _ in range(100 * size):
        if len(sentences) == size:
            break
        sentence = _english_sentence(rng)
        if _english(sentence) not in taken:
            taken.add(_english(sentence))
            sentences.append(sentence)
    if len(sentences) < size:
        raise DataError(f"could not draw {size} distinct synthetic sentences; ask for fewer")
    return sentences


def _synthetic(opts: SyntheticOptions, downloads: _Downloads) -> _Built:
    """Language ``i`` (named ``syn<letter>``) writes each English word through its own lexicon,
    in its own order of subject, verb and object. Languages ``i`` and ``i + F`` share word stems
    (``F = ceil(N / 2)`` families, told apart by a suffix), so by default each small language has
    a related large one, as in TED-8 "related"."""
    n_langs = len(opts.sizes)
    n_families = math.ceil(n_langs / 2)
    syllables = [c + v for c in "ptkbdgmnlrsvz" for v in "aeiou"]
    stems = []
    for family in range(n_families):
        rng = random.Random(f"{opts.seed}-family-{family}")
        words = rng.sample([a + b for a in syllables for b in syllables], len(_WORDS))
        stems.append(dict(zip(_WORDS, words, strict=True)))

    def translate(i: int, sentence: _Sentence) -> str:
        subject, verb, obj, adverb = sentence
        roles = {"s": subject, "v": [verb], "o": obj}
        words = [w for role in _ORDERS[i % len(_ORDERS)] for w in roles[role]] + adverb
        lexicon = stems[i % n_families]
        suffix = _SUFFIXES[(i // n_families) % len(_SUFFIXES)]
        return " ".join(lexicon[w] + suffix for w in words)

    names = [f"syn{chr(ord('a') + i)}" for i in range(n_langs)]
    held_out: set[str] = set()
    data: LangSplits = {name: {} for name in names}
    for i, name in enumerate(names):  # held-out sets first, so that no language trains on them
        rng = random.Random(f"{opts.seed}-{name}-heldout")
        for split, size in (("valid", opts.valid), ("test", opts.test)):
            data[name][split] = [(translate(i, s), _english(s)) for s in _draw(rng, size, held_out)]
    for i, name in enumerate(names):
        log.info("synthetic: %s (%d of %d), %d training pairs", name, i + 1, n_langs, opts.sizes[i])
        rng = random.Random(f"{opts.seed}-{name}-train")
        sentences = _draw(rng, opts.sizes[i], set(held_out))
        data[name]["train"] = [(translate(i, s), _english(s)) for s in sentences]
    return _Built(data, _by_threshold(data, opts.low_threshold))


def _ted(opts: TedOptions, downloads: _Downloads) -> _Built:
    """Every split found in ``source`` copied as it is (TED has its own splits)."""
    cfg = DataConfig(dir=opts.source, format="ted", direction="m2o", pivot=PIVOT, langs=opts.langs)
    corpus = read_corpus(cfg, required=())
    data: LangSplits = {}
    for lang in corpus.tasks:
        data[lang] = {}
        for split in SPLITS:
            xs, engs = corpus.splits[split].get(lang, ([], []))
            data[lang][split] = [
                (_one_line(x), _one_line(e)) for x, e in zip(xs, engs, strict=True)
            ]
    return _Built(data, _by_threshold(data, opts.low_threshold))


@dataclass(frozen=True)
class Recipe:
    """A benchmark builder: a one-line description, its options dataclass and the builder."""

    description: str
    options: type[Any]
    make: Callable[[Any, _Downloads], _Built]


RECIPES: dict[str, Recipe] = {
    "tatoeba-related": Recipe(
        "Tatoeba v2021-08-07: low aze, bel, glg, ukr (capped) and related high tur, rus, por, ces",
        TatoebaOptions,
        _tatoeba,
    ),
    "tatoeba-ted8": Recipe(
        "tatoeba-related with TED-8 related's imbalance (its sizes / 12): aze 500, bel 375, glg 711, ukr 5k; high 12-19k",
        TatoebaTed8Options,
        _tatoeba,
    ),
    "wmt-news": Recipe(
        "WMT news test sets 2008-2021 of 10 languages, pooled: naturally imbalanced (deu to kaz)",
        WmtOptions,
        _wmt_news,
    ),
    "synthetic": Recipe(
        "generated word-substitution languages with their own word orders; no download",
        SyntheticOptions,
        _synthetic,
    ),
    "ted": Recipe(
        "a copy of a directory in the TED talks layout (source=DIR), splits kept as they are",
        TedOptions,
        _ted,
    ),
}


def get_recipe(name: str) -> Recipe:
    """The recipe registered as ``name``.

    Raises:
        DataError: naming the valid recipes.
    """
    if name not in RECIPES:
        raise DataError(f"unknown recipe '{name}'; valid recipes: {', '.join(RECIPES)}")
    return RECIPES[name]


def make_options(name: str, options: dict[str, Any]) -> Any:
    """The options dataclass of recipe ``name`` filled from ``options`` and validated.

    Raises:
        DataError: for an unknown option (suggesting the nearest one), a value of the wrong type,
            or an invalid value.
    """
    cls = get_recipe(name).options
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in options.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid: {', '.join(fields)}"
            raise DataError(f"unknown option '{key}' for recipe '{name}'{hint}")
        expected = type(getattr(cls(), key))
        if not _is_a(value, expected):
            raise DataError(
                f"option '{key}' of recipe '{name}' must be a {expected.__name__}, got {value!r}"
            )
    opts = cls(**options)
    opts.validate()
    return opts


def _is_a(value: Any, expected: type) -> bool:
    """Whether ``value`` fits an option whose default is of type ``expected`` (an int fits a
    float; a bool fits only a bool)."""
    if isinstance(value, bool) or expected is bool:
        return isinstance(value, bool) and expected is bool
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)


# ---------------------------------------------------------------------------------------------
# Building and writing


def build(
    name: str,
    out: str | Path,
    mirror: str | Path | None = None,
    *,
    overwrite: bool = False,
    cache: str | Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Build benchmark ``name`` into ``out`` (see the module docstring for the layout).

    Args:
        name: a key of :data:`RECIPES`.
        out: output directory; must be empty, new, or a previous build of the same recipe.
        mirror: offline mirror directory for downloads (else ``$CATSMT_MIRROR``, else the network).
        overwrite: build into a non-empty ``out`` that holds something else; its raw-layout
            files and ``stats.json`` are replaced, other files are left alone.
        cache: where downloads are kept; default ``out/.downloads``.
        **options: fields of the recipe's options dataclass (e.g. ``seed=2``).

    Returns:
        The statistics written to ``out/stats.json``.

    Raises:
        DataError: for an unknown recipe or option, an ``out`` that holds something else, or a
            download or input problem. Nothing in ``out`` is changed before the data is ready.
    """
    recipe = get_recipe(name)
    opts = make_options(name, options)
    out = Path(out)
    _check_out(out, name, overwrite)
    downloads = _Downloads(Path(cache) if cache else out / DOWNLOADS_DIR, mirror)
    built = recipe.make(opts, downloads)
    stats = {
        "recipe": name,
        "description": recipe.description,
        "options": dataclasses.asdict(opts),
        "catsmt_version": catsmt.__version__,
        "pivot": PIVOT,
        "layout": LAYOUT,
        "langs": sorted(built.data),
        "groups": {
            g: sorted(lang for lang, v in built.groups.items() if v == g) for g in ("low", "high")
        },
        "pairs": {
            lang: {s: len(built.data[lang][s]) for s in SPLITS} for lang in sorted(built.data)
        },
        "totals": {s: sum(len(d[s]) for d in built.data.values()) for s in SPLITS},
        "details": built.details,
        "sources": downloads.used,
    }
    _write(out, built.data, stats)
    return stats


def _check_out(out: Path, name: str, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"output {out} exists and is not a directory")
    if not out.exists() or overwrite:
        return
    if not [p for p in out.iterdir() if p.name != DOWNLOADS_DIR]:
        return
    previous = None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        previous = json.loads((out / STATS_FILE).read_text(encoding="utf-8")).get("recipe")
    if previous != name:
        what = (
            f"a '{previous}' build" if previous else f"not a catsmt build (no valid {STATS_FILE})"
        )
        raise DataError(
            f"output {out} is not empty and is {what}; nothing was written. Choose a new or empty "
            f"directory, or pass overwrite=True to replace its corpus files"
        )


def _write(out: Path, data: LangSplits, stats: dict[str, Any]) -> None:
    """Write the corpus files, remove stale ones, then ``stats.json`` (last, so that a directory
    with a ``stats.json`` holds a complete build)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / STATS_FILE).unlink(missing_ok=True)
    written: set[str] = set()
    for lang, splits in data.items():
        for split, pairs in splits.items():
            if not pairs:
                continue
            text = {
                lang: "".join(x + "\n" for x, _ in pairs),
                PIVOT: "".join(e + "\n" for _, e in pairs),
            }
            for src, tgt in ((PIVOT, lang), (lang, PIVOT)):
                for side in (src, tgt):
                    name = f"{split}.{src}-{tgt}.{side}"
                    write_atomic(out / name, text[side])
                    written.add(name)
    for path in out.iterdir():  # corpus files of an earlier build that this one does not have
        if FAIRSEQ_FILE.match(path.name) and path.name not in written and path.is_file():
            path.unlink()
    write_atomic(out / STATS_FILE, json.dumps(stats, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# Upstream files: Helsinki-NLP/OPUS-MT-testsets at commit ac0f19c0. Copied from
# shared/mirror/MANIFEST.tsv: path under OPUS_URL -> sha256.

OPUS_URL = (
    "https://raw.githubusercontent.com/Helsinki-NLP/OPUS-MT-testsets/"
    "ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180/"
)
OPUS_SHA256: dict[str, str] = {
    "datasets/helsinki_nlp/tatoeba/testsets/aze-eng/tatoeba-test-v2021-08-07.aze": "912adc07b18b7db15402f7db7a28a8bccf751d8ea8e603f2ed5c279727a8b5ad",
    "datasets/helsinki_nlp/tatoeba/testsets/aze-eng/tatoeba-test-v2021-08-07.eng": "112c3f9caca86d830e3b931cbd10cb4325414c3c8fbc300bb8933ba71c0fe5e3",
    "datasets/helsinki_nlp/tatoeba/testsets/bel-eng/tatoeba-test-v2021-08-07.bel": "f49975aa331f3d44f3c5a32b5afb49546a9964765d0a16914dc54485f485f6ef",
    "datasets/helsinki_nlp/tatoeba/testsets/bel-eng/tatoeba-test-v2021-08-07.eng": "c459b506182ad90acbb5a92d7be20845cf62fc93b6dd635b0804475e83252271",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-glg/tatoeba-test-v2021-08-07.eng": "b773f5ca8184e7a938fa7922d9486542effa927eb5e1617c788fb98ec21c077f",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-glg/tatoeba-test-v2021-08-07.glg": "90ec8d7609875aea2d3be6694be874f13eafdec0e8d95891342ff8c978c90b53",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-ukr/tatoeba-test-v2021-08-07.eng": "4ee18d8e7b05e07c54b65bc37590717d88a6463a494abbe47306b84185069aea",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-ukr/tatoeba-test-v2021-08-07.ukr": "6c65c0e9108379e9743dd2903cf4a67da7a80f63ecb16dbdd27ca51f46d6665b",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-tur/tatoeba-test-v2021-08-07.eng": "f316c20e76fbdc939495e5abe74e5b81bc1920663ba8106c4ecf56d21230187f",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-tur/tatoeba-test-v2021-08-07.tur": "0622af57035c6df8ed9e2018a81757142941d7864362dc3b4b11be5f406eefd4",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-rus/tatoeba-test-v2021-08-07.eng": "3d89c0281402c08dd6f8158301bf44586997b7f76070269c9ee4097c4f10fcb2",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-rus/tatoeba-test-v2021-08-07.rus": "643d0d8beedac2add8b8a6523bacdbbb349e438e0139eb5ef9b4cc0f63660cd5",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-por/tatoeba-test-v2021-08-07.eng": "e6e3bdd486f121fe4876439d92bf52cdc6faab7cdf816888360465bc61f11fab",
    "datasets/helsinki_nlp/tatoeba/testsets/eng-por/tatoeba-test-v2021-08-07.por": "8a5148ff3b5515cb4948e9b17621bed646851c13ad1d217c2e4ab6e3ac081389",
    "datasets/helsinki_nlp/tatoeba/testsets/ces-eng/tatoeba-test-v2021-08-07.ces": "82d71216da44fc76c161cb811cef0ec2752cb6500b7283083d2c81b4102c2571",
    "datasets/helsinki_nlp/tatoeba/testsets/ces-eng/tatoeba-test-v2021-08-07.eng": "3fa90d9fa699ce09616d8c35f6a41eca23d7a9b75bcc2c1ee3e7a460b4e652f4",
    "testsets/eng-deu/news-test2008.deu": "6d86c805e6cd008c11143816daac272fdf5a3afea816983c43005717d6fe3ae2",
    "testsets/eng-deu/news-test2008.eng": "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f",
    "testsets/eng-deu/newssyscomb2009.deu": "da74e91ec9f155a958a9cfcdb8e4291162b31b589e09306c40528aaf684d2fec",
    "testsets/eng-deu/newssyscomb2009.eng": "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d",
    "testsets/eng-deu/newstest2009.deu": "41f7d4a766a99f78646474dbd21af0dd0285a5dad5c48d1b627334c11a1771d9",
    "testsets/eng-deu/newstest2009.eng": "3fc92718e7b994ca0a5dc57e63b68d5c80244a56e5bb1cec11d2e8dd10b3ff3c",
    "testsets/eng-deu/newstest2010.deu": "4f4b02d3abe150ca47a745d138d90f688edb20dd2d2fedca16aa05fd1e2018b1",
    "testsets/eng-deu/newstest2010.eng": "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b",
    "testsets/eng-deu/newstest2011.deu": "033bc05659f61c5e51170973267d21e23a9a968557b866f3842c92e416a60e1b",
    "testsets/eng-deu/newstest2011.eng": "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd",
    "testsets/eng-deu/newstest2012.deu": "946b9587b79271b0f3ce9cc8c0e5b310e3021ef598e1ba5dc2a24fef8960de30",
    "testsets/eng-deu/newstest2012.eng": "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e",
    "testsets/eng-deu/newstest2013.deu": "d7ea35ab91ff3709e03ad9cb6bf5b4f2cc775cd2d72efd5254c4aec5e69663ca",
    "testsets/eng-deu/newstest2013.eng": "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e",
    "testsets/eng-deu/newstest2014.deu": "ae5d110486bc33d7175e9e28c7d0051eb3e5fcd2166dd93371089852c091a20e",
    "testsets/eng-deu/newstest2014.eng": "7294bccf2879a97b3706b95c9595f1459617a8ee7130d5d8581c910e69736971",
    "testsets/eng-deu/newstest2015.deu": "796cce52ab248469187b60f60715a738a0b92944dc010a69a0083de7fae1b513",
    "testsets/eng-deu/newstest2015.eng": "422fbb5a274c7aae1a0890381cd4516307ca7bc957604220d4871a91664121e5",
    "testsets/eng-deu/newstest2016.deu": "738ca1ced4099937127be3208ba70d46e7a93550cd57cfd645f3d35e0e52a254",
    "testsets/eng-deu/newstest2016.eng": "cd5c112a358d9c99b9557eb358e16d7a94f8fa93ad7aa61bf5f1141f2e1f8854",
    "testsets/eng-deu/newstest2017.deu": "675e4f7e6045dacf56507e29b24106d771a571e0eb58d822806b086cdcf892f4",
    "testsets/eng-deu/newstest2017.eng": "11adaec47477928dab9cb3fc9279d99dbbbfec7161f3abf6fddd759668fcd703",
    "testsets/eng-deu/newstest2018.deu": "c53059fc440b3771aef2a83b15fddd8d2b3490c55b552dcae245f9a2df126c9c",
    "testsets/eng-deu/newstest2018.eng": "721b207ca2b4e4689f978e17ee5edb0988d7c901acd651fd666bcd9c1950233b",
    "testsets/eng-deu/newstest2019.deu": "ba6b9c811a564c7747bdc92de2b31513bc608fd9c7c24df85b654e38b83bca81",
    "testsets/eng-deu/newstest2019.eng": "3a62f94f5c42a395d4452ec890ca45afc75866b5b4b1d493429433cfe8469fe9",
    "testsets/eng-deu/newstest2020.deu": "af6130ca5716921733d3cad61f39c9edd694572deb0fdfc9eae4262ea19d560a",
    "testsets/eng-deu/newstest2020.eng": "1a21e5c163df57b7755e28d32211c1f74b7e4eeb1768340dc49a206574a6481f",
    "testsets/eng-deu/newstestB2020.deu": "0a46ff30c39651f7916d4df557b0bd799715851e35e136661ee65c02e6b0b6a0",
    "testsets/eng-deu/newstestB2020.eng": "1a21e5c163df57b7755e28d32211c1f74b7e4eeb1768340dc49a206574a6481f",
    "testsets/deu-eng/news-test2008.deu": "6d86c805e6cd008c11143816daac272fdf5a3afea816983c43005717d6fe3ae2",
    "testsets/deu-eng/news-test2008.eng": "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f",
    "testsets/deu-eng/newssyscomb2009.deu": "da74e91ec9f155a958a9cfcdb8e4291162b31b589e09306c40528aaf684d2fec",
    "testsets/deu-eng/newssyscomb2009.eng": "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d",
    "testsets/deu-eng/newstest2009.deu": "c3a23d90e89c080cd3257a23365187e91939be4067176861fb88df7f61864b40",
    "testsets/deu-eng/newstest2009.eng": "c74a4862decfe87f88fb10eacdcb6ac972a648f0dd6deeb25ac2dbc6128dc0b6",
    "testsets/deu-eng/newstest2010.deu": "4f4b02d3abe150ca47a745d138d90f688edb20dd2d2fedca16aa05fd1e2018b1",
    "testsets/deu-eng/newstest2010.eng": "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b",
    "testsets/deu-eng/newstest2011.deu": "033bc05659f61c5e51170973267d21e23a9a968557b866f3842c92e416a60e1b",
    "testsets/deu-eng/newstest2011.eng": "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd",
    "testsets/deu-eng/newstest2012.deu": "946b9587b79271b0f3ce9cc8c0e5b310e3021ef598e1ba5dc2a24fef8960de30",
    "testsets/deu-eng/newstest2012.eng": "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e",
    "testsets/deu-eng/newstest2013.deu": "d7ea35ab91ff3709e03ad9cb6bf5b4f2cc775cd2d72efd5254c4aec5e69663ca",
    "testsets/deu-eng/newstest2013.eng": "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e",
    "testsets/deu-eng/newstest2014.deu": "ae5d110486bc33d7175e9e28c7d0051eb3e5fcd2166dd93371089852c091a20e",
    "testsets/deu-eng/newstest2014.eng": "7294bccf2879a97b3706b95c9595f1459617a8ee7130d5d8581c910e69736971",
    "testsets/deu-eng/newstest2015.deu": "796cce52ab248469187b60f60715a738a0b92944dc010a69a0083de7fae1b513",
    "testsets/deu-eng/newstest2015.eng": "422fbb5a274c7aae1a0890381cd4516307ca7bc957604220d4871a91664121e5",
    "testsets/deu-eng/newstest2016.deu": "738ca1ced4099937127be3208ba70d46e7a93550cd57cfd645f3d35e0e52a254",
    "testsets/deu-eng/newstest2016.eng": "cd5c112a358d9c99b9557eb358e16d7a94f8fa93ad7aa61bf5f1141f2e1f8854",
    "testsets/deu-eng/newstest2017.deu": "675e4f7e6045dacf56507e29b24106d771a571e0eb58d822806b086cdcf892f4",
    "testsets/deu-eng/newstest2017.eng": "11adaec47477928dab9cb3fc9279d99dbbbfec7161f3abf6fddd759668fcd703",
    "testsets/deu-eng/newstest2018.deu": "c53059fc440b3771aef2a83b15fddd8d2b3490c55b552dcae245f9a2df126c9c",
    "testsets/deu-eng/newstest2018.eng": "721b207ca2b4e4689f978e17ee5edb0988d7c901acd651fd666bcd9c1950233b",
    "testsets/deu-eng/newstest2019.deu": "601988e41931965e2c4eba80799d1fc9b43837e20bcae8e61edf21542805d449",
    "testsets/deu-eng/newstest2019.eng": "95152920451528b9e167d42def3fd7d0ea0d9a4f12e88bdf63b4adba4975cb1d",
    "testsets/deu-eng/newstest2020.deu": "0add9464880d8d0b4b546344c7d77a00711878830397f7333c49c993eb048d31",
    "testsets/deu-eng/newstest2020.eng": "39ed144d204c675097e5a53514c89549fbe4d753520d96c4c513b8b9920e89a9",
    "testsets/deu-eng/newstestB2020.deu": "0add9464880d8d0b4b546344c7d77a00711878830397f7333c49c993eb048d31",
    "testsets/deu-eng/newstestB2020.eng": "5975e3a7fb7787d13bb236f508debc7e8bbe60b3ae20f9572f24b6794d7e8e1b",
    "testsets/eng-ces/news-test2008.ces": "36c1229dc35bae9a41228c1d66008540965ccc83d69d316535c25ce7c08350ee",
    "testsets/eng-ces/news-test2008.eng": "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f",
    "testsets/eng-ces/newssyscomb2009.ces": "57782c85b6bebed44d620f118fbe46924981c858511e98dd4612ea376a4b9a68",
    "testsets/eng-ces/newssyscomb2009.eng": "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d",
    "testsets/eng-ces/newstest2009.ces": "5afbd35248ea4aedbf88cc4bc9e8c92a724f51f7341a02bbb0bc62869640d09a",
    "testsets/eng-ces/newstest2009.eng": "3fc92718e7b994ca0a5dc57e63b68d5c80244a56e5bb1cec11d2e8dd10b3ff3c",
    "testsets/eng-ces/newstest2010.ces": "d3ca0aae5610c943ad803ae5561a2c2404fe2e937f9a10cc387ca2d91eb68e2a",
    "testsets/eng-ces/newstest2010.eng": "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b",
    "testsets/eng-ces/newstest2011.ces": "19aa0370cbd8445ba73e48d4fd91025ec591d3c3ce5c77a38dbda1f56c304daa",
    "testsets/eng-ces/newstest2011.eng": "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd",
    "testsets/eng-ces/newstest2012.ces": "a7dfb928f7cbd151ed8a892d192e0e0a278de0006b9a6431e68a460e0c4bd662",
    "testsets/eng-ces/newstest2012.eng": "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e",
    "testsets/eng-ces/newstest2013.ces": "f2aec495b088dbf8aec48c7b5d8d577e68cee8327d0f76d296ae3dcf2565adb3",
    "testsets/eng-ces/newstest2013.eng": "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e",
    "testsets/eng-ces/newstest2014.ces": "ab97fb33490f99ec9472fddaad928f99e15e339acce9b98c8feae7d93ab63301",
    "testsets/eng-ces/newstest2014.eng": "f1d280ee4b7aa85f75829cf321e75f2a80bdeb91afb16be0f5d0a099ef539781",
    "testsets/eng-ces/newstest2015.ces": "de22e437a62f8878e0e8a57a7964eff779075f682dcb66c50f45b6a0da9e8a09",
    "testsets/eng-ces/newstest2015.eng": "12b7f7f87ca7242190c1535aa2012b3a36c76499506c09d4cd112c23dec383e9",
    "testsets/eng-ces/newstest2016.ces": "e056c0dd7e068a16a2fbca2a8bdb348245d4b2e62c30bed152e066df4b3dbc63",
    "testsets/eng-ces/newstest2016.eng": "bf7e8f5b0bfb29c96f78d1588eb7671a08c82e538a8eec9c0c644f4a08a254b0",
    "testsets/eng-ces/newstest2017.ces": "225db9617df335fae930a8edb31ee3d2bda44ffff654fbdc453a92fcaa6efc23",
    "testsets/eng-ces/newstest2017.eng": "4a27d3eec4152cce280087270fea7bc13d1f44c6efe19f75c0fabf9a714ccba9",
    "testsets/eng-ces/newstest2018.ces": "ced796c5a20dfe1183d06ec33e7d2f3a7a99e61abbac35124899d70ff42f616d",
    "testsets/eng-ces/newstest2018.eng": "b24d3e6a9dfaad46ca0d7a3ff999a1fb3e07251cc76f6f41ba7a3829b095d3c5",
    "testsets/eng-ces/newstest2019.ces": "2dfc9039acbb0adcbdaa6aa05e38c85aec3f5f6f945a248812519673c5da5741",
    "testsets/eng-ces/newstest2019.eng": "3a62f94f5c42a395d4452ec890ca45afc75866b5b4b1d493429433cfe8469fe9",
    "testsets/ces-eng/news-test2008.ces": "36c1229dc35bae9a41228c1d66008540965ccc83d69d316535c25ce7c08350ee",
    "testsets/ces-eng/news-test2008.eng": "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f",
    "testsets/ces-eng/newssyscomb2009.ces": "57782c85b6bebed44d620f118fbe46924981c858511e98dd4612ea376a4b9a68",
    "testsets/ces-eng/newssyscomb2009.eng": "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d",
    "testsets/ces-eng/newstest2009.ces": "5afbd35248ea4aedbf88cc4bc9e8c92a724f51f7341a02bbb0bc62869640d09a",
    "testsets/ces-eng/newstest2009.eng": "c74a4862decfe87f88fb10eacdcb6ac972a648f0dd6deeb25ac2dbc6128dc0b6",
    "testsets/ces-eng/newstest2010.ces": "d3ca0aae5610c943ad803ae5561a2c2404fe2e937f9a10cc387ca2d91eb68e2a",
    "testsets/ces-eng/newstest2010.eng": "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b",
    "testsets/ces-eng/newstest2011.ces": "19aa0370cbd8445ba73e48d4fd91025ec591d3c3ce5c77a38dbda1f56c304daa",
    "testsets/ces-eng/newstest2011.eng": "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd",
    "testsets/ces-eng/newstest2012.ces": "a7dfb928f7cbd151ed8a892d192e0e0a278de0006b9a6431e68a460e0c4bd662",
    "testsets/ces-eng/newstest2012.eng": "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e",
    "testsets/ces-eng/newstest2013.ces": "f2aec495b088dbf8aec48c7b5d8d577e68cee8327d0f76d296ae3dcf2565adb3",
    "testsets/ces-eng/newstest2013.eng": "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e",
    "testsets/ces-eng/newstest2014.ces": "ab97fb33490f99ec9472fddaad928f99e15e339acce9b98c8feae7d93ab63301",
    "testsets/ces-eng/newstest2014.eng": "f1d280ee4b7aa85f75829cf321e75f2a80bdeb91afb16be0f5d0a099ef539781",
    "testsets/ces-eng/newstest2015.ces": "de22e437a62f8878e0e8a57a7964eff779075f682dcb66c50f45b6a0da9e8a09",
    "testsets/ces-eng/newstest2015.eng": "12b7f7f87ca7242190c1535aa2012b3a36c76499506c09d4cd112c23dec383e9",
    "testsets/ces-eng/newstest2016.ces": "e056c0dd7e068a16a2fbca2a8bdb348245d4b2e62c30bed152e066df4b3dbc63",
    "testsets/ces-eng/newstest2016.eng": "bf7e8f5b0bfb29c96f78d1588eb7671a08c82e538a8eec9c0c644f4a08a254b0",
    "testsets/ces-eng/newstest2017.ces": "225db9617df335fae930a8edb31ee3d2bda44ffff654fbdc453a92fcaa6efc23",
    "testsets/ces-eng/newstest2017.eng": "4a27d3eec4152cce280087270fea7bc13d1f44c6efe19f75c0fabf9a714ccba9",
    "testsets/ces-eng/newstest2018.ces": "ced796c5a20dfe1183d06ec33e7d2f3a7a99e61abbac35124899d70ff42f616d",
    "testsets/ces-eng/newstest2018.eng": "b24d3e6a9dfaad46ca0d7a3ff999a1fb3e07251cc76f6f41ba7a3829b095d3c5",
    "testsets/eng-fra/news-test2008.eng": "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f",
    "testsets/eng-fra/news-test2008.fra": "e212f59bb002d73a1bfebdcf101a6c51db3ccfd8a3115cc8a18414b6ee2a28f9",
    "testsets/eng-fra/newsdiscusstest2015.eng": "7527c3cde95379afdba3a13bab4aac237aceabc1d2f1ed2c31971e1be672266a",
    "testsets/eng-fra/newsdiscusstest2015.fra": "8e38ea9cf6fb7f543e6a3e17ab3b377bec11248e76be55a88d6d7d9ed340430e",
    "testsets/eng-fra/newssyscomb2009.eng": "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d",
    "testsets/eng-fra/newssyscomb2009.fra": "bf74d7a28aa72aa79cbff02bec00a14983f65616dd37ee53e17a37e9d933505e",
    "testsets/eng-fra/newstest2009.eng": "3fc92718e7b994ca0a5dc57e63b68d5c80244a56e5bb1cec11d2e8dd10b3ff3c",
    "testsets/eng-fra/newstest2009.fra": "0ca4995d1dff341488287e1f9d4230073a20bc6e43e268ebf5e7b476f526c07d",
    "testsets/eng-fra/newstest2010.eng": "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b",
    "testsets/eng-fra/newstest2010.fra": "131ee7deb0ea517bdd6a85ca5f6f5ca3136c5f76daba426ef4dde3d60b9e66a9",
    "testsets/eng-fra/newstest2011.eng": "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd",
    "testsets/eng-fra/newstest2011.fra": "9631ea545acf4b921add6baba856b03efae9f0de4c330a314091b3f925506c7f",
    "testsets/eng-fra/newstest2012.eng": "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e",
    "testsets/eng-fra/newstest2012.fra": "29aa5aff172127f6adf5625cc2f8e44f579d524700e84f1ec0eb14f4f19719e4",
    "testsets/eng-fra/newstest2013.eng": "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e",
    "testsets/eng-fra/newstest2013.fra": "909b63be5df3eb8c13e1d5967bf3f0adfdb9f6ed5e638c5bffff563ee2ff7f41",
    "testsets/eng-fra/newstest2014.eng": "9a12cb6e8efb3509ebede627e4a9c83ee64935509d561ff70f4b7bd5f93f6096",
    "testsets/eng-fra/newstest2014.fra": "2bd07dc204f965bf88e90adb6223a8cb850f9bf9840df6af1f4945195936656e",
    "testsets/fra-eng/news-test2008.eng": "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f",
    "testsets/fra-eng/news-test2008.fra": "e212f59bb002d73a1bfebdcf101a6c51db3ccfd8a3115cc8a18414b6ee2a28f9",
    "testsets/fra-eng/newsdiscusstest2015.eng": "7527c3cde95379afdba3a13bab4aac237aceabc1d2f1ed2c31971e1be672266a",
    "testsets/fra-eng/newsdiscusstest2015.fra": "8e38ea9cf6fb7f543e6a3e17ab3b377bec11248e76be55a88d6d7d9ed340430e",
    "testsets/fra-eng/newssyscomb2009.eng": "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d",
    "testsets/fra-eng/newssyscomb2009.fra": "bf74d7a28aa72aa79cbff02bec00a14983f65616dd37ee53e17a37e9d933505e",
    "testsets/fra-eng/newstest2009.eng": "c74a4862decfe87f88fb10eacdcb6ac972a648f0dd6deeb25ac2dbc6128dc0b6",
    "testsets/fra-eng/newstest2009.fra": "2f4f17f73c3b927a3a0ba4cc082f22f70dd396d7d71cd14e160940207f5f6958",
    "testsets/fra-eng/newstest2010.eng": "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b",
    "testsets/fra-eng/newstest2010.fra": "131ee7deb0ea517bdd6a85ca5f6f5ca3136c5f76daba426ef4dde3d60b9e66a9",
    "testsets/fra-eng/newstest2011.eng": "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd",
    "testsets/fra-eng/newstest2011.fra": "9631ea545acf4b921add6baba856b03efae9f0de4c330a314091b3f925506c7f",
    "testsets/fra-eng/newstest2012.eng": "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e",
    "testsets/fra-eng/newstest2012.fra": "29aa5aff172127f6adf5625cc2f8e44f579d524700e84f1ec0eb14f4f19719e4",
    "testsets/fra-eng/newstest2013.eng": "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e",
    "testsets/fra-eng/newstest2013.fra": "909b63be5df3eb8c13e1d5967bf3f0adfdb9f6ed5e638c5bffff563ee2ff7f41",
    "testsets/fra-eng/newstest2014.eng": "9a12cb6e8efb3509ebede627e4a9c83ee64935509d561ff70f4b7bd5f93f6096",
    "testsets/fra-eng/newstest2014.fra": "2bd07dc204f965bf88e90adb6223a8cb850f9bf9840df6af1f4945195936656e",
    "testsets/eng-fin/newstest2015.eng": "b2eddc125f99389fb16591f6540b040850fdd69b7896044ced418219276ddebe",
    "testsets/eng-fin/newstest2015.fin": "19a15a836e2f2680c0b1248804437c14ea3475d0e9690b976f0d1849838b8010",
    "testsets/eng-fin/newstest2016.eng": "22a19bd96f159b6ef90d8a103df0ad54b69d5f2105e5642cda98556813e99836",
    "testsets/eng-fin/newstest2016.fin": "af94546695aa54e61ae7bd3b6d4464bbf9bc880f5ef665978d67c02f45143428",
    "testsets/eng-fin/newstest2017.eng": "b17e8de3891563c1fbf6686e90113be26271d10387c3bffe6457c91b64125615",
    "testsets/eng-fin/newstest2017.fin": "639ddd8029819c9e4f5ea9e52a1f8181cac26ba7908dbc381336ede965ebbc4a",
    "testsets/eng-fin/newstest2018.eng": "1eca801219fa51d9a94983a9169e441f58849fa3e4abf39d6434d27a0760b3d0",
    "testsets/eng-fin/newstest2018.fin": "83a7b96bc5bb076fd7e561b64d36120f79dd9304a9cbd96bd6991009f63e424c",
    "testsets/eng-fin/newstest2019.eng": "3a62f94f5c42a395d4452ec890ca45afc75866b5b4b1d493429433cfe8469fe9",
    "testsets/eng-fin/newstest2019.fin": "6ca2e00a256cb75105db5c91f8eb94de74e428efab93e9921a59e7d5eb4c2223",
    "testsets/eng-fin/newstestB2016.eng": "22a19bd96f159b6ef90d8a103df0ad54b69d5f2105e5642cda98556813e99836",
    "testsets/eng-fin/newstestB2016.fin": "816bc208e38b494bfd68a15565a5d88e7196a2ecc506054c3e37a1c4cfd23113",
    "testsets/eng-fin/newstestB2017.eng": "b17e8de3891563c1fbf6686e90113be26271d10387c3bffe6457c91b64125615",
    "testsets/eng-fin/newstestB2017.fin": "fb9afce3aba6994975ec0fca18a5de1c40c4652aa726ae2f2846e7d273b55a7c",
    "testsets/fin-eng/newstest2015.eng": "b2eddc125f99389fb16591f6540b040850fdd69b7896044ced418219276ddebe",
    "testsets/fin-eng/newstest2015.fin": "19a15a836e2f2680c0b1248804437c14ea3475d0e9690b976f0d1849838b8010",
    "testsets/fin-eng/newstest2016.eng": "22a19bd96f159b6ef90d8a103df0ad54b69d5f2105e5642cda98556813e99836",
    "testsets/fin-eng/newstest2016.fin": "af94546695aa54e61ae7bd3b6d4464bbf9bc880f5ef665978d67c02f45143428",
    "testsets/fin-eng/newstest2017.eng": "b17e8de3891563c1fbf6686e90113be26271d10387c3bffe6457c91b64125615",
    "testsets/fin-eng/newstest2017.fin": "639ddd8029819c9e4f5ea9e52a1f8181cac26ba7908dbc381336ede965ebbc4a",
    "testsets/fin-eng/newstest2018.eng": "1eca801219fa51d9a94983a9169e441f58849fa3e4abf39d6434d27a0760b3d0",
    "testsets/fin-eng/newstest2018.fin": "83a7b96bc5bb076fd7e561b64d36120f79dd9304a9cbd96bd6991009f63e424c",
    "testsets/fin-eng/newstest2019.eng": "c6a21f5dfa3e015922f1c61a40069cad3b0ae62f90ef51e1bd649ce9dc29dbcb",
    "testsets/fin-eng/newstest2019.fin": "55ed44fc93de5ceb102e60b03414f31da1112b7f7079248fae747e189cc791d8",
    "testsets/fin-eng/newstestB2016.eng": "22a19bd96f159b6ef90d8a103df0ad54b69d5f2105e5642cda98556813e99836",
    "testsets/fin-eng/newstestB2016.fin": "816bc208e38b494bfd68a15565a5d88e7196a2ecc506054c3e37a1c4cfd23113",
    "testsets/fin-eng/newstestB2017.eng": "b17e8de3891563c1fbf6686e90113be26271d10387c3bffe6457c91b64125615",
    "testsets/fin-eng/newstestB2017.fin": "fb9afce3aba6994975ec0fca18a5de1c40c4652aa726ae2f2846e7d273b55a7c",
    "testsets/eng-tur/newstest2016.eng": "d3d06b4fdd885998f8e9fc657a980cee61ad282b223edde0601f9339bbef41ab",
    "testsets/eng-tur/newstest2016.tur": "9f3fd0b40b3ddcce1d894779ce25a9886092b3c08e47f1572a45000b9c4027c6",
    "testsets/eng-tur/newstest2017.eng": "a059693276d5fe25912ee9bd1520225a0889e47764a6d4ff351c92aa167e6653",
    "testsets/eng-tur/newstest2017.tur": "9b31fb006f11e6ff3209788647ddd12aefb3119572641d059df43ebe697a7f6b",
    "testsets/eng-tur/newstest2018.eng": "b3f2c457cfaac57b6611be5828ef2836075750aad864d7004d1691afba2474a4",
    "testsets/eng-tur/newstest2018.tur": "f0142c9476e4f9dad3a682b5ed1cb6ae8b4c9a61e79b4fa9d99c040317f3047d",
    "testsets/tur-eng/newstest2016.eng": "d3d06b4fdd885998f8e9fc657a980cee61ad282b223edde0601f9339bbef41ab",
    "testsets/tur-eng/newstest2016.tur": "9f3fd0b40b3ddcce1d894779ce25a9886092b3c08e47f1572a45000b9c4027c6",
    "testsets/tur-eng/newstest2017.eng": "a059693276d5fe25912ee9bd1520225a0889e47764a6d4ff351c92aa167e6653",
    "testsets/tur-eng/newstest2017.tur": "9b31fb006f11e6ff3209788647ddd12aefb3119572641d059df43ebe697a7f6b",
    "testsets/tur-eng/newstest2018.eng": "b3f2c457cfaac57b6611be5828ef2836075750aad864d7004d1691afba2474a4",
    "testsets/tur-eng/newstest2018.tur": "f0142c9476e4f9dad3a682b5ed1cb6ae8b4c9a61e79b4fa9d99c040317f3047d",
    "testsets/eng-hin/newstest2014.eng": "f5dc3b3eb32c7b587bedb27c10628a487eb21aa590023445e19e8e4671bed1c0",
    "testsets/eng-hin/newstest2014.hin": "4f124affab1050a39dd628eb6cb85c801db5215b5a3962566f183b204394785f",
    "testsets/hin-eng/newstest2014.eng": "f5dc3b3eb32c7b587bedb27c10628a487eb21aa590023445e19e8e4671bed1c0",
    "testsets/hin-eng/newstest2014.hin": "4f124affab1050a39dd628eb6cb85c801db5215b5a3962566f183b204394785f",
    "testsets/eng-lav/newstest2017.eng": "1e343a2456265369ecff8029835764022244f46a2bcd1db35ea6e04ad493c68f",
    "testsets/eng-lav/newstest2017.lav": "c3351265f9c586bfac21e2d4a4c84c36f3282ec298a38a247258741ee405cc9b",
    "testsets/lav-eng/newstest2017.eng": "1e343a2456265369ecff8029835764022244f46a2bcd1db35ea6e04ad493c68f",
    "testsets/lav-eng/newstest2017.lav": "c3351265f9c586bfac21e2d4a4c84c36f3282ec298a38a247258741ee405cc9b",
    "testsets/eng-est/newstest2018.eng": "7b0858cf9a01a7a98205446185a41c4373537d1265d892c05811c999d40dc34c",
    "testsets/eng-est/newstest2018.est": "cea2c9b6741eee0c85e0bdd792dfb80cbf3ca20dc5ee65a5c2e85d1fe661e224",
    "testsets/est-eng/newstest2018.eng": "7b0858cf9a01a7a98205446185a41c4373537d1265d892c05811c999d40dc34c",
    "testsets/est-eng/newstest2018.est": "cea2c9b6741eee0c85e0bdd792dfb80cbf3ca20dc5ee65a5c2e85d1fe661e224",
    "testsets/eng-ron/newstest2016.eng": "e883f089e3ee88cecd40a509aa743ae60be2d72c37cf1a97462f31855ab5c90b",
    "testsets/eng-ron/newstest2016.ron": "f19bbf43c1de16c43ccaf8a05aacac3113a0cd2148d9f674c0fec118878abb18",
    "testsets/ron-eng/newstest2016.eng": "e883f089e3ee88cecd40a509aa743ae60be2d72c37cf1a97462f31855ab5c90b",
    "testsets/ron-eng/newstest2016.ron": "f19bbf43c1de16c43ccaf8a05aacac3113a0cd2148d9f674c0fec118878abb18",
    "testsets/eng-kaz/newstest2019.eng": "429b982ab48971300cf227c133a8c05d18395a55a662996b320fd529ffb7dd43",
    "testsets/eng-kaz/newstest2019.kaz": "80c2e9dd758d469e103291dcb29503bacd8b14ca8bf4cb3f582e3777a2a63230",
    "testsets/kaz-eng/newstest2019.eng": "96c255ba4300d8d59b6cf2dedee627c32cbb9160ec4be53bad325127921ccf8d",
    "testsets/kaz-eng/newstest2019.kaz": "126f5834d0e7372e159ec21bbd8c3fd7c72ec090f83ea9e21511727f8c3269e9",
}
