"""Evaluate a run folder: translate a held-out split, score it, write ``RUN/eval/``.

:func:`evaluate_run` is what ``catsmt evaluate RUN`` calls. It translates every language's
``split`` with the run's model (target tag forced as the first decoder input, as in
training), detokenizes, scores with :func:`~catsmt.evaluation.scores.score_languages` and
writes::

    RUN/eval/{split}.json            the scores (see evaluate_run's Returns)
    RUN/eval/hyps/{split}.{lang}.hyp one detokenized hypothesis per line, in corpus order

With ``out`` given, the JSON goes there and the hypotheses into ``hyps/`` beside it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from catsmt.data import MultilingualData
from catsmt.data.errors import DataError
from catsmt.data.layouts import HELD_OUT
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import cut_to_fit, one_line
from catsmt.decoding.translate import translate_ids
from catsmt.evaluation.scores import SplitScores, score_languages
from catsmt.evaluation.tables import build_table
from catsmt.files import write_atomic
from catsmt.run.inference import load_inference_model

#: The splits that can be evaluated: held-out data only (scores on ``train`` mean nothing).
SPLITS = HELD_OUT


def choose_langs(data: MultilingualData, langs: Sequence[str] | None) -> list[str]:
    """``langs`` checked against the run's tasks, in the run's order; all tasks for ``None``.

    Raises:
        DataError: an empty list or an unknown language (the message lists the tasks).
    """
    if langs is None:
        return list(data.langs)
    if not langs:
        raise DataError(f"no languages chosen; tasks: {', '.join(data.langs)}")
    unknown = [lang for lang in langs if lang not in data.langs]
    if unknown:
        raise DataError(
            f"unknown language {', '.join(repr(x) for x in unknown)}; tasks: {', '.join(data.langs)}"
        )
    return [lang for lang in data.langs if lang in langs]


def _progress(total: int, desc: str) -> Any:
    """A sentence-counting progress bar on an interactive stderr (None otherwise: logs and
    pipes stay clean)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sent", dynamic_ncols=True, mininterval=1.0, leave=False)


def evaluate_run(
    run: Path,
    split: str = "test",
    decode: DecodeConfig | None = None,
    checkpoint: str = "best",
    average_last: int = 0,
    device: str = "cpu",
    out: Path | None = None,
    langs: list[str] | None = None,
    max_sentences: int = 0,
) -> dict[str, Any]:
    """Translate and score ``split`` of every language (or of ``langs``) of a run.

    Args:
        run: the run folder.
        split: ``"test"`` or ``"valid"``.
        decode: beam size, length penalty, length limits, batch size; the run's ``decode``
            section when ``None``.
        checkpoint: ``"best"``, ``"last"`` or a checkpoint file (see
            :func:`~catsmt.run.inference.resolve_checkpoint`).
        average_last: average the last this-many step checkpoints instead (0 = off).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        out: the JSON file to write; default ``RUN/eval/{split}.json``.
        langs: the languages to evaluate; default every task of the run.
        max_sentences: translate only the first this-many sentences per language (0 = all).

    Returns:
        What is written to ``out``: ``score_languages``'s ``{"split", "beam", "signature",
        "langs": {xx: {"bleu", "chrf", "n", "group"}}, "average": {"all", "low", "high"}}``
        plus ``"checkpoint"`` (the file, or the averaged files), ``"step"``, ``"decode"``
        (the decoding settings) and ``"speed"``: ``{"sentences", "target_tokens",
        "seconds", "target_tokens_per_s"}``, where target tokens are the generated subword
        tokens including each ``</s>`` and seconds are spent in the search only.

    Raises:
        CheckpointError: a missing run folder or checkpoint (see ``load_inference_model``).
        DataError: an unknown language, or a language without ``split``.
        ValueError: ``split`` is not valid or test, ``run`` is a file, ``max_sentences < 0``,
            or invalid decoding settings.
    """
    run = Path(run)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} (held-out data), got '{split}'")
    if run.is_file():
        raise ValueError(
            f"{run} is a file; evaluate takes a run folder (choose a checkpoint file of it "
            "with --checkpoint FILE)"
        )
    if max_sentences < 0:
        raise ValueError(f"max_sentences must be >= 0, got {max_sentences}")
    loaded = load_inference_model(run, device, average_last, checkpoint)
    data = loaded.data
    decode = decode if decode is not None else loaded.cfg.decode
    decode.validate()
    chosen = choose_langs(data, langs)
    device_of_model = next(loaded.model.parameters()).device

    hyps: dict[str, list[str]] = {}
    refs: dict[str, list[str]] = {}
    sentences = tokens = 0
    seconds = 0.0
    todo = {lang: data.raw(split, lang) for lang in chosen}
    if max_sentences:
        todo = {lang: (src[:max_sentences], ref[:max_sentences]) for lang, (src, ref) in todo.items()}
    bar = _progress(sum(len(src) for src, _ in todo.values()), f"translating {split}")
    for lang, (src, ref) in todo.items():
        if bar is not None:
            bar.set_postfix(lang=lang)
        sources = data.encode_source(src, lang)
        sources = cut_to_fit(
            sources, loaded.model.cfg.max_positions, range(1, len(sources) + 1), f"{split}.{lang} line"
        )
        start = time.perf_counter()
        ids = translate_ids(
            loaded.model, sources, [data.target_tag(lang)] * len(sources), decode,
            data.vocab.eos_id, data.vocab.pad_id, device_of_model,
        )
        seconds += time.perf_counter() - start
        sentences += len(ids)
        tokens += sum(len(h) + 1 for h in ids)  # + </s>
        hyps[lang] = [one_line(data.vocab.decode(h)) for h in ids]
        refs[lang] = list(ref)
        if bar is not None:
            bar.update(len(ids))
    if bar is not None:
        bar.close()

    scores = score_languages(hyps, refs, {lang: data.groups[lang] for lang in chosen}, split, decode.beam)
    result: dict[str, Any] = {
        **scores,
        "checkpoint": loaded.description,
        "step": loaded.step,
        "decode": dataclasses.asdict(decode),
        "speed": {
            "sentences": sentences,
            "target_tokens": tokens,
            "seconds": seconds,
            "target_tokens_per_s": tokens / max(seconds, 1e-9),
        },
    }

    out = Path(out) if out is not None else run / "eval" / f"{split}.json"
    hyp_dir = out.parent / "hyps"
    hyp_dir.mkdir(parents=True, exist_ok=True)
    for lang, lines in hyps.items():
        write_atomic(hyp_dir / f"{split}.{lang}.hyp", "".join(line + "\n" for line in lines))
    write_atomic(out, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def summary_text(result: dict[str, Any], method: str) -> str:
    """A Table-2-style text table of one evaluation (BLEU), with chrF, speed and the sacrebleu
    signatures of both metrics."""
    scores = cast(SplitScores, result)
    table = build_table({method: scores}, baselines=[]).to_text()
    chrf = build_table({method: scores}, baselines=[], metric="chrf").to_text()
    speed = result["speed"]
    return (
        f"{table}\n{chrf}\n"
        f"checkpoint: {result['checkpoint']} (step {result['step']}), beam {result['beam']}\n"
        f"decoding: {speed['sentences']} sentences, {speed['target_tokens']} target tokens in "
        f"{speed['seconds']:.2f} s ({speed['target_tokens_per_s']:.0f} target tokens/s)\n"
        f"{result['signature']['bleu']}\n"
        f"{result['signature']['chrf']}\n"
    )
