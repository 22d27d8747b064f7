"""Translating with a CTranslate2 export (``catsmt export --format ct2``), as :class:`Translator` does.

The text side is catsmt's (:func:`~catsmt.decoding.text.translate_text`): the same
SentencePiece encoding, language tags, cutting to ``max_positions`` and detokenization;
only the search runs in CTranslate2, with the decoder started from the target tag (a
one-token target prefix), ``<pad>`` never generated, and each sentence's length limit
``min(max_len_a * len + max_len_b, max_positions - 1)`` as catsmt's search has it.
Greedy search gives catsmt's output (tests/decoding/test_ct2.py); beam search may differ
on a few sentences, as the two stop and rank finished hypotheses by their own rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import (
    translate_text,
)
from catsmt.decoding.translator import TranslatorBase
from catsmt.run.ct2 import import_ctranslate2
from catsmt.run.model_folder import VOCAB_FILE, Languages, ModelInfo


def _device(name: str) -> tuple[str, int]:
    """CTranslate2's ``(device, device_index)`` for catsmt's device names.

    Raises:
        ValueError: an unknown name.
    """
    if name in ("cpu", "auto", "cuda"):
        return name, 0
    if name.startswith("cuda:") and name[5:].isdigit():
        return "cuda", int(name[5:])
    raise ValueError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N")


class CT2Translator(TranslatorBase):
    """A CTranslate2 model folder that translates like :class:`~catsmt.decoding.translator.Translator`.

    Args:
        path: the folder (``catsmt export RUN OUT --format ct2``).
        info: its catsmt.json (:func:`~catsmt.run.model_folder.read_model_info`).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        threads: CPU threads for one translation (CTranslate2's ``intra_threads``; 0 = its default).

    Raises:
        ModelFolderError: CTranslate2 is not installed.
        ValueError: an unknown device, or CTranslate2 cannot load the folder.
    """

    def __init__(self, path: Path, info: ModelInfo, device: str = "cpu", threads: int = 0) -> None:
        ctranslate2 = import_ctranslate2()
        import sentencepiece as spm

        self.path = Path(path)
        self.info = info
        kind, index = _device(device)
        try:
            self.engine = ctranslate2.Translator(
                str(self.path), device=kind, device_index=index, inter_threads=1, intra_threads=threads
            )
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"CTranslate2 cannot load {self.path}: {e}") from None
        sp = spm.SentencePieceProcessor(model_file=str(self.path / VOCAB_FILE))
        self._pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        self._ids = {piece: i for i, piece in enumerate(self._pieces)}

    @property
    def languages(self) -> Languages:
        return self.info.languages

    @property
    def decode(self) -> DecodeConfig:
        """The decoding defaults of the run it was exported from."""
        return self.info.decode

    @property
    def step(self) -> int:
        return self.info.step

    @property
    def description(self) -> str:
        return str(self.path / "model.bin")

    def search(self, sources: list[list[int]], bos: int, decode: DecodeConfig) -> list[list[int]]:
        """Output ids of ``sources`` (ids, tag and ``</s>`` included), decoded from tag ``bos``.

        One CTranslate2 call decodes every sentence up to the longest limit, and each output is
        cut to its own limit: exactly catsmt's greedy output (a greedy prefix does not depend on
        how long decoding may go on); with a beam, a sentence that reaches its limit may end
        otherwise than catsmt's, which forces ``</s>`` there.
        """
        if not sources:
            return []
        vocab = self.info.languages.vocab
        longest = self.info.model.max_positions - 1  # the decoder input holds the tag, then the output
        limits = [min(int(decode.max_len_a * len(s) + decode.max_len_b), longest) for s in sources]
        tag = self._pieces[bos]
        results = self.engine.translate_batch(
            [[self._pieces[t] for t in s] for s in sources],
            target_prefix=[[tag] for _ in sources],
            max_batch_size=decode.batch_tokens,
            batch_type="tokens",
            beam_size=decode.beam,
            length_penalty=decode.lenpen,
            max_input_length=0,
            max_decoding_length=max(limits),  # output tokens after the prefix, as catsmt counts them
            min_decoding_length=0,
            suppress_sequences=[[self._pieces[vocab.pad_id]]],
        )
        out: list[list[int]] = []
        for limit, result in zip(limits, results, strict=True):
            tokens = result.hypotheses[0]
            if tokens and tokens[0] == tag:
                tokens = tokens[1:]
            out.append([self._ids[t] for t in tokens[:limit]])
        return out

    def _translate(self, sentences: Sequence[str], lang: str, decode: DecodeConfig, first_line: int = 1) -> list[str]:
        def search(sources: list[list[int]], bos: int) -> list[list[int]]:
            return self.search(sources, bos, decode)

        return translate_text(
            self.info.languages, sentences, lang, search, self.info.model.max_positions, first_line
        )
