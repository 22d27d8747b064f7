"""Text in, text out: translating sentences with a loaded model.

The model comes from :func:`catsmt.run.inference.load_translation_model` (a model folder,
a run folder or a checkpoint file) or :func:`~catsmt.run.inference.load_inference_model`;
these functions only encode, search (:mod:`catsmt.decoding.search`) and decode.
:func:`translate_text` and :func:`stream_in_chunks` hold what does not depend on the search,
so that another engine (CTranslate2, :mod:`catsmt.decoding.ct2`) gives text the same way.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence

from catsmt.data import MultilingualData
from catsmt.data.errors import DataError
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.translate import fit_sources, translate_ids
from catsmt.run.inference import InferenceModel, TranslationModel
from catsmt.run.model_folder import Languages

#: Translates source ids (tag and ``</s>`` included) into output ids, given the target tag id.
IdSearch = Callable[[list[list[int]], int], list[list[int]]]

log = logging.getLogger(__name__)

#: Sentences translated at once by :func:`translate_stream` (sorted by length inside).
STREAM_CHUNK = 1000


def find_task(data: MultilingualData | Languages, src_lang: str, tgt_lang: str) -> str:
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


def check_lines(lines: object, what: str = "translate") -> list[str]:
    """``lines`` as a list of str.

    Raises:
        TypeError: ``lines`` is a single str (it would be translated character by
            character), or holds something other than str (naming its index).
    """
    if isinstance(lines, (str, bytes)):
        raise TypeError(f"{what} takes a list of sentences, not a {type(lines).__name__}: wrap one sentence as [sentence]")
    if not isinstance(lines, Iterable):
        raise TypeError(f"{what} takes a list of sentences, got {type(lines).__name__}")
    out = list(lines)
    for i, line in enumerate(out):
        if not isinstance(line, str):
            raise TypeError(f"{what}: sentence {i} is a {type(line).__name__}, not a str")
    return out


def translate_text(
    languages: MultilingualData | Languages, lines: Sequence[str], lang: str, search: IdSearch,
    max_positions: int, first_line: int = 1,
) -> list[str]:
    """Encode the non-blank ``lines`` of task ``lang``, cut them to ``max_positions``, run
    ``search`` on them and detokenize; a blank line gives an empty translation.

    Returns:
        One line per input line, in the input order.
    """
    todo = [i for i, line in enumerate(lines) if line.strip()]
    out = [""] * len(lines)
    if not todo:
        return out
    sources = languages.encode_source([lines[i] for i in todo], lang)
    sources = cut_to_fit(sources, max_positions, [first_line + i for i in todo])
    hyps = search(sources, languages.target_tag(lang))
    for i, ids in zip(todo, hyps, strict=True):
        out[i] = one_line(languages.vocab.decode(ids))
    return out


def translate_lines(
    loaded: InferenceModel | TranslationModel, lines: Sequence[str], lang: str, decode: DecodeConfig,
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
    lines = check_lines(lines, "translate_lines")
    model, vocab = loaded.model, loaded.languages.vocab
    device = next(model.parameters()).device

    def search(sources: list[list[int]], bos: int) -> list[list[int]]:
        return translate_ids(model, sources, [bos] * len(sources), decode, vocab.eos_id, vocab.pad_id, device)

    return translate_text(loaded.languages, lines, lang, search, model.cfg.max_positions, first_line)


def stream_in_chunks(
    translate: Callable[[list[str], int], list[str]], lines: Iterable[str], chunk: int = STREAM_CHUNK
) -> Iterator[str]:
    """Translate an iterable of lines ``chunk`` at a time with ``translate(chunk_lines,
    first_line)``, yielding translations in order.

    When reading ``lines`` fails (a line that is not UTF-8, say), the lines read before it are
    translated and yielded first, then the error is raised: no finished work is lost.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
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
                yield from translate(buffer, done + 1)
            raise
        buffer.append(line)
        if len(buffer) >= chunk:
            yield from translate(buffer, done + 1)
            done += len(buffer)
            buffer = []
    if buffer:
        yield from translate(buffer, done + 1)


def translate_stream(
    loaded: InferenceModel | TranslationModel, lines: Iterable[str], lang: str, decode: DecodeConfig,
    chunk: int = STREAM_CHUNK,
) -> Iterator[str]:
    """Translate an iterable of lines chunk by chunk, yielding translations in order.

    When reading ``lines`` fails (a line that is not UTF-8, say), the lines read before it are
    translated and yielded first, then the error is raised: no finished work is lost.
    """

    def translate(batch: list[str], first_line: int) -> list[str]:
        return translate_lines(loaded, batch, lang, decode, first_line=first_line)

    return stream_in_chunks(translate, lines, chunk)


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
