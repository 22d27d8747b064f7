"""The Python API for translating with a trained model: :func:`load_model` and :class:`Translator`.

::

    import catsmt

    model = catsmt.load_model("exported/")          # a model folder, a run folder or a checkpoint
    model.translate(["Hello.", "How are you?"], src_lang="eng", tgt_lang="bel", beam=5)
    # -> ["...", "..."]: one translation per sentence, in order; a blank line gives ""

A model folder written by ``catsmt export`` is read alone (no corpus, nothing written); a
CTranslate2 folder (``catsmt export --format ct2``) gives a
:class:`~catsmt.decoding.ct2.CT2Translator` with the same methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import (
    STREAM_CHUNK,
    check_lines,
    find_task,
    stream_in_chunks,
    translate_lines,
    with_overrides,
)
from catsmt.run.inference import TranslationModel, load_translation_model
from catsmt.run.model_folder import CTRANSLATE2, Languages, is_model_folder, read_model_info

if TYPE_CHECKING:
    from catsmt.decoding.ct2 import CT2Translator


def language_pairs(languages: Languages) -> list[tuple[str, str]]:
    """The ``(source, target)`` pairs a model translates, in its task order."""
    return [languages.pair(lang) for lang in languages.langs]


class TranslatorBase:
    """The text-in, text-out methods every loaded model offers (:class:`Translator`, and
    :class:`~catsmt.decoding.ct2.CT2Translator` for a CTranslate2 folder). A subclass gives
    :attr:`languages`, :attr:`decode`, :attr:`step`, :attr:`description` and
    :meth:`_translate` (its engine); the checks, the pair lookup and the chunking are here.
    """

    @property
    def languages(self) -> Languages:
        """The tasks, their tags and the vocabulary."""
        raise NotImplementedError

    @property
    def decode(self) -> DecodeConfig:
        """The decoding defaults (beam size, length penalty and limits, batch size)."""
        raise NotImplementedError

    @property
    def step(self) -> int:
        """The training step of the weights."""
        raise NotImplementedError

    @property
    def description(self) -> str:
        """Where the weights were read from."""
        raise NotImplementedError

    def _translate(self, sentences: Sequence[str], lang: str, decode: DecodeConfig, first_line: int = 1) -> list[str]:
        """Translations of checked ``sentences`` of task ``lang`` (``first_line``: the number
        of the first, for warnings)."""
        raise NotImplementedError

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The ``(source, target)`` language pairs this model translates."""
        return language_pairs(self.languages)

    def task(self, src_lang: str, tgt_lang: str) -> str:
        """The task that translates ``src_lang`` into ``tgt_lang``.

        Raises:
            DataError: the model does not translate that pair (the message lists those it does).
        """
        return find_task(self.languages, src_lang, tgt_lang)

    def translate(
        self,
        lines: Sequence[str],
        *,
        src_lang: str,
        tgt_lang: str,
        beam: int | None = None,
        batch_tokens: int | None = None,
    ) -> list[str]:
        """Translate sentences from ``src_lang`` into ``tgt_lang``.

        Args:
            lines: the sentences, one per item (a list; a single str is refused).
            src_lang, tgt_lang: a pair of :attr:`pairs`.
            beam: beam size, 1 = greedy; ``None`` = the model's default (``decode.beam``).
            batch_tokens: source tokens per batch; ``None`` = the model's default.

        Returns:
            One translation per sentence, in order; a blank sentence gives ``""``. A sentence
            longer than the model's positions is cut to fit, with a warning.

        Raises:
            TypeError: ``lines`` is a str, or holds something other than str.
            DataError: an unknown pair.
            ValueError: an invalid ``beam`` or ``batch_tokens``.
        """
        sentences = check_lines(lines)
        lang = self.task(src_lang, tgt_lang)
        return self._translate(sentences, lang, with_overrides(self.decode, beam=beam, batch_tokens=batch_tokens))

    def translate_stream(
        self,
        lines: Iterable[str],
        *,
        src_lang: str,
        tgt_lang: str,
        beam: int | None = None,
        batch_tokens: int | None = None,
        chunk: int = STREAM_CHUNK,
    ) -> Iterator[str]:
        """:meth:`translate` over an iterable (a file, stdin), ``chunk`` lines at a time,
        yielding translations in order. The pair and settings are checked before any line
        is read."""
        if isinstance(lines, str):
            check_lines(lines)
        lang = self.task(src_lang, tgt_lang)
        decode = with_overrides(self.decode, beam=beam, batch_tokens=batch_tokens)

        def translate(batch: list[str], first_line: int) -> list[str]:
            return self._translate(batch, lang, decode, first_line)

        return stream_in_chunks(translate, lines, chunk)

    def __repr__(self) -> str:
        pairs = ", ".join(f"{s}-{t}" for s, t in self.pairs)
        return f"{type(self).__name__}({pairs}; step {self.step}; {self.description})"


class Translator(TranslatorBase):
    """A trained model that turns sentences into translations (what :func:`load_model` gives).

    Args:
        loaded: the model and its vocabulary, from
            :func:`~catsmt.run.inference.load_translation_model`.

    Attributes:
        loaded: that model: ``.model`` (the Transformer), ``.languages``, ``.decode``,
            ``.step``, ``.sources``.
    """

    def __init__(self, loaded: TranslationModel) -> None:
        self.loaded = loaded

    @property
    def languages(self) -> Languages:
        return self.loaded.languages

    @property
    def decode(self) -> DecodeConfig:
        return self.loaded.decode

    @property
    def step(self) -> int:
        return self.loaded.step

    @property
    def description(self) -> str:
        return self.loaded.description

    def _translate(self, sentences: Sequence[str], lang: str, decode: DecodeConfig, first_line: int = 1) -> list[str]:
        return translate_lines(self.loaded, sentences, lang, decode, first_line=first_line)


def load_model(
    path: str | Path,
    *,
    device: str = "cpu",
    checkpoint: str = "best",
    average_last: int = 0,
    threads: int = 0,
) -> Translator | CT2Translator:
    """Load a trained model for translation.

    Args:
        path: a model folder (``catsmt export RUN OUT``), a run folder or a checkpoint file.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        checkpoint: for a run folder: ``"best"``, ``"last"`` or a checkpoint file.
        average_last: for a run folder: average the weights of its last this-many step
            checkpoints (0 = off).
        threads: CPU threads of a CTranslate2 folder (0 = its default); torch models use
            ``torch.set_num_threads``.

    Returns:
        A :class:`Translator` (or, for a CTranslate2 folder, a
        :class:`~catsmt.decoding.ct2.CT2Translator` with the same methods).

    Raises:
        CheckpointError: a missing or damaged run folder, checkpoint or model folder.
        DataError: a run without its vocabulary beside it whose corpus is gone.
        ValueError: an unknown device, or ``checkpoint``/``average_last`` with a model folder.
    """
    if is_model_folder(path):
        info = read_model_info(path)
        if info.weights.get("format") == CTRANSLATE2:
            if checkpoint != "best" or average_last:
                raise ValueError(f"{path} is a model folder, which holds one set of weights")
            from catsmt.decoding.ct2 import CT2Translator

            return CT2Translator(Path(path), info, device=device, threads=threads)
    return Translator(load_translation_model(path, device, average_last, checkpoint))
