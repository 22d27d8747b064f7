"""Text in, text out: translating sentences with a loaded model.

The model comes from :func:`catsmt.run.load_model` (a run folder or a checkpoint file);
these functions only encode, search (:mod:`catsmt.decoding.search`) and decode.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence

from catsmt.data import MultilingualData
from catsmt.data.errors import DataError
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.translate import fit_sources, translate_ids
from catsmt.run.inference import InferenceModel

log = logging.getLogger(__name__)

#: Sentences translated at once by :func:`translate_stream` (sorted by length inside).
STREAM_CHUNK = 1000


def find_task(data: MultilingualData, src_lang: str, tgt_lang: str) -> str:
    """The task that translates ``src_lang`` into ``tgt_lang``.

    Raises:
        DataError: no task does; the message lists the pairs the model knows.
    """
    for lang in data.langs:
        if data.pair(lang) == (src_lang, tgt_lang):
            return lang
    valid = ", ".join(f"{s}-{t}" for s, t in (data.pair(lang) for lang in data.langs))
    raise DataError(f"this model does not translate {src_lang}-{tgt_lang}; valid pairs: {valid}")


def one_line(text: str) -> str:
    """``text`` with any line break replaced by a space, so one sentence stays one line."""
    return " ".join(text.splitlines())


def cut_to_fit(
    sources: list[list[int]], limit: int, numbers: Sequence[int], where: str = "line"
) -> list[list[int]]:
    """:func:`~catsmt.decoding.translate.fit_sources`, with a warning per source that was cut,
    naming it as ``{where} {number}`` (``numbers[i]`` is the line number of ``sources[i]``)."""
    fitted, cut = fit_sources(sources, limit)
    for i in cut:
        log.warning(
            "%s %d is %d tokens long, over the model's limit of %d: translating it cut to %d tokens",
            where, numbers[i], len(sources[i]), limit, limit,
        )
    return fitted


def translate_lines(
    loaded: InferenceModel, lines: Sequence[str], lang: str, decode: DecodeConfig,
    first_line: int = 1,
) -> list[str]:
    """Translate sentences of task ``lang``; a blank line gives an empty translation.

    A sentence longer than the model's ``max_positions`` (in subword tokens, tag and ``</s>``
    included) is cut to fit, with a warning naming its line: ``first_line`` is the number of
    ``lines[0]`` in those warnings.

    Returns:
        One detokenized line per input line, in the input order.

    Raises:
        TypeError: ``lines`` is a single string (it would be translated character by character).
    """
    if isinstance(lines, str):
        raise TypeError("translate_lines takes a list of sentences, not a str: wrap one sentence as [sentence]")
    data, model = loaded.data, loaded.model
    todo = [i for i, line in enumerate(lines) if line.strip()]
    out = [""] * len(lines)
    if not todo:
        return out
    sources = data.encode_source([lines[i] for i in todo], lang)
    sources = cut_to_fit(sources, model.cfg.max_positions, [first_line + i for i in todo])
    device = next(model.parameters()).device
    hyps = translate_ids(
        model, sources, [data.target_tag(lang)] * len(todo), decode,
        data.vocab.eos_id, data.vocab.pad_id, device,
    )
    for i, ids in zip(todo, hyps, strict=True):
        out[i] = one_line(data.vocab.decode(ids))
    return out


def translate_stream(
    loaded: InferenceModel, lines: Iterable[str], lang: str, decode: DecodeConfig,
    chunk: int = STREAM_CHUNK,
) -> Iterator[str]:
    """Translate an iterable of lines chunk by chunk, yielding translations in order.

    When reading ``lines`` fails (a line that is not UTF-8, say), the lines read before it are
    translated and yielded first, then the error is raised: no finished work is lost.
    """
    buffer: list[str] = []
    done = 0  # lines translated so far; the next chunk starts at line done + 1
    source = iter(lines)
    while True:
        try:
            line = next(source)
        except StopIteration:
            break
        except Exception:
            if buffer:
                yield from translate_lines(loaded, buffer, lang, decode, first_line=done + 1)
            raise
        buffer.append(line)
        if len(buffer) >= chunk:
            yield from translate_lines(loaded, buffer, lang, decode, first_line=done + 1)
            done += len(buffer)
            buffer = []
    if buffer:
        yield from translate_lines(loaded, buffer, lang, decode, first_line=done + 1)


def with_overrides(
    base: DecodeConfig, beam: int | None = None, batch_tokens: int | None = None
) -> DecodeConfig:
    """``base`` with the beam size and batch size a user gave (``None`` keeps the run's).

    Raises:
        ValueError: an invalid value (a beam size below 1, ...).
    """
    cfg = dataclasses.replace(base)
    if beam is not None:
        cfg.beam = beam
    if batch_tokens is not None:
        cfg.batch_tokens = batch_tokens
    cfg.validate()
    return cfg
