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
BUILDING_FILE = ".catsmt-building"  # present while a build writes its files
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
    if previous is None:  # a build of the same recipe that was killed: built again, from its downloads
        with contextlib.suppress(OSError, ValueError, AttributeError):
            previous = json.loads((out / BUILDING_FILE).read_text(encoding="utf-8")).get("recipe")
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
    with a ``stats.json`` holds a complete build). While the files are written,
    ``.catsmt-building`` names the recipe: a build killed half-way is recognised as one, and
    the same ``data get`` builds it again without ``--overwrite``."""
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / BUILDING_FILE, json.dumps({"recipe": stats["recipe"]}) + "\n")
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
    (out / BUILDING_FILE).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Upstream files: Helsinki-NLP/OPUS-MT-testsets at commit ac0f19c0. Copied from
# shared/mirror/MANIFEST.tsv: path under OPUS_URL -> sha256.

OPUS_URL = (
    "https://raw.githubusercontent.com/Helsinki-NLP/OPUS-MT-testsets/"
    "ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180/"
)


def _read_checksums(name: str) -> dict[str, str]:
    """``path -> sha256`` from a tab-separated table shipped beside this module."""
    text = (Path(__file__).parent / name).read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {path: digest for path, digest in rows}


OPUS_SHA256: dict[str, str] = _read_checksums("opus_sha256.tsv")
