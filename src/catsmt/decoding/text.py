"""Text in, text out: translating sentences with a loaded model.

The model comes from :func:`catsmt.run.load_model` (a run folder or a checkpoint file);
these functions only encode, search (:mod:`catsmt.decoding.search`) and decode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

from catsmt.data import MultilingualData
from catsmt.data.errors import DataError
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.translate import translate_ids
from catsmt.run.inference import InferenceModel

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


def translate_lines(
    loaded: InferenceModel, lines: Sequence[str], lang: str, decode: DecodeConfig
) -> list[str]:
    """Translate sentences of task ``lang``; a blank line gives an empty translation.

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
    """Translate an iterable of lines chunk by chunk, yielding translations in order."""
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= chunk:
            yield from translate_lines(loaded, buffer, lang, decode)
            buffer = []
    if buffer:
        yield from translate_lines(loaded, buffer, lang, decode)


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
