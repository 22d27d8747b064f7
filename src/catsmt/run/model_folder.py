"""A model folder that stands alone: the weights, the vocabulary and what the model translates.

``catsmt export RUN OUT`` writes (docs/model-folder.md describes every key)::

    OUT/
      catsmt.json          what the model is: its config, languages, vocabulary, decoding
                           defaults, and the checkpoint(s) and step it came from
      model.safetensors    the weights, named as the Transformer's state_dict (a tied matrix
                           once, its other names listed in catsmt.json)
      sentencepiece.model  the shared SentencePiece model, language tags included

A CTranslate2 export (:mod:`catsmt.run.ct2`) has the same ``catsmt.json`` and
``sentencepiece.model`` beside CTranslate2's own ``model.bin``, ``config.json`` and
``shared_vocabulary.json``.

Reading a folder (:func:`read_model_info`, :func:`read_weights`) opens those files and
nothing else, and writes nothing: no corpus, no cache, no path taken from a config. Writing
(:func:`write_folder`) builds the folder under a temporary name beside ``OUT`` and renames
it into place once whole, so ``OUT`` is complete or absent.

A run folder can keep the vocabulary part of this beside its checkpoints, so that
translating from a run needs no corpus either::

    RUN/sentencepiece.model   the run's SentencePiece model (the same file)
    RUN/languages.json        {"vocab": ..., "languages": ...}, as in catsmt.json

:func:`save_run_languages` writes them (the trainer's job, once the vocabulary is built);
:func:`find_run_languages` reads them for :func:`catsmt.run.inference.load_translation_model`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from catsmt import __version__
from catsmt.config import DecodeConfig  # the decode section, through the config layer
from catsmt.config_fields import ConfigError, from_dict, to_dict
from catsmt.data import MultilingualData, Vocab
from catsmt.data.errors import DataError
from catsmt.data.vocab import tag_piece
from catsmt.files import fsync_dir, write_atomic
from catsmt.model.config import ModelConfig
from catsmt.run.checkpoint import CheckpointError

#: ``format`` of catsmt.json, and the newest ``format_version`` this catsmt reads and writes.
FORMAT = "catsmt-model"
FORMAT_VERSION = 1
META_FILE = "catsmt.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "sentencepiece.model"
RUN_LANGUAGES_FILE = "languages.json"
#: ``weights.format`` values: what holds the weights of a folder.
SAFETENSORS, CTRANSLATE2 = "safetensors", "ctranslate2"


class ModelFolderError(CheckpointError):
    """A model folder that cannot be written (the output exists) or read (a file missing,
    damaged, or of a newer format)."""


# -- what a model translates -------------------------------------------------------------


@dataclass(frozen=True)
class Languages:
    """The vocabulary and the tasks of a model: everything needed to turn text into ids.

    It answers the questions :class:`~catsmt.data.MultilingualData` answers for translation
    (``langs``, :meth:`pair`, :meth:`encode_source`, :meth:`target_tag`) without a corpus.

    Attributes:
        vocab: the shared SentencePiece vocabulary.
        pairs: task -> ``(source language, target language)``.
        source_tag: whether sources start with the target-language tag ``<2xx>``.

    Raises:
        DataError: a language of ``pairs`` has no tag in ``vocab``.
    """

    vocab: Vocab
    pairs: Mapping[str, tuple[str, str]]
    source_tag: bool

    def __post_init__(self) -> None:
        for _, tgt in self.pairs.values():
            self.vocab.tag_id(tgt)  # the decoder starts with it (and the source, with source_tag)

    @classmethod
    def of(cls, data: MultilingualData) -> Languages:
        """The languages of a run's prepared data."""
        return cls(data.vocab, {lang: data.pair(lang) for lang in data.langs}, data.cfg.source_tag)

    @property
    def langs(self) -> list[str]:
        """Task names, in the order they were given (sorted for a run's data)."""
        return list(self.pairs)

    def pair(self, lang: str) -> tuple[str, str]:
        """``(source language, target language)`` of task ``lang``.

        Raises:
            DataError: an unknown task.
        """
        if lang not in self.pairs:
            raise DataError(f"unknown language '{lang}'; tasks: {', '.join(self.langs)}")
        return self.pairs[lang]

    def encode_source(self, texts: Sequence[str], lang: str) -> list[list[int]]:
        """Source ids as the model saw them in training: ``[<2tgt>] + pieces + [</s>]``."""
        _, tgt = self.pair(lang)
        head = [self.vocab.tag_id(tgt)] if self.source_tag else []
        return [head + ids + [self.vocab.eos_id] for ids in self.vocab.encode_many(texts)]

    def target_tag(self, lang: str) -> int:
        """Id of the tag that starts the decoder input of task ``lang``."""
        return self.vocab.tag_id(self.pair(lang)[1])

    def to_json(self) -> dict[str, Any]:
        """The ``languages`` entry of catsmt.json."""
        return {
            "source_tag": self.source_tag,
            "tasks": {
                lang: {
                    "src": src,
                    "tgt": tgt,
                    "target_tag": tag_piece(tgt),
                    "target_tag_id": self.vocab.tag_id(tgt),
                }
                for lang, (src, tgt) in self.pairs.items()
            },
        }

    @classmethod
    def from_json(cls, raw: Any, vocab: Vocab, where: str) -> Languages:
        """Read a ``languages`` entry written by :meth:`to_json`, checked against ``vocab``.

        Raises:
            ModelFolderError: a missing or mistyped key, or a tag whose id is not the
                vocabulary's (naming ``where``).
        """
        source_tag = _field(raw, "source_tag", bool, where)
        tasks = _field(raw, "tasks", dict, where)
        if not tasks:
            raise ModelFolderError(f"{where}: languages.tasks is empty")
        pairs: dict[str, tuple[str, str]] = {}
        for lang, task in tasks.items():
            here = f"{where}: languages.tasks.{lang}"
            src, tgt = _field(task, "src", str, here), _field(task, "tgt", str, here)
            tag_id = _field(task, "target_tag_id", int, here)
            try:
                actual = vocab.tag_id(tgt)
            except DataError as e:
                raise ModelFolderError(f"{here}: {e}") from None
            if actual != tag_id:
                raise ModelFolderError(
                    f"{here}: target tag {tag_piece(tgt)} has id {actual} in the vocabulary, "
                    f"not {tag_id}: the vocabulary is not the one this model was trained with"
                )
            pairs[str(lang)] = (src, tgt)
        return cls(vocab, pairs, source_tag)


def vocab_json(vocab: Vocab) -> dict[str, Any]:
    """The ``vocab`` entry of catsmt.json: the file, its hash, its size and special ids."""
    return {
        "file": VOCAB_FILE,
        "sha256": vocab.digest,
        "size": vocab.size,
        "pad_id": vocab.pad_id,
        "unk_id": vocab.unk_id,
        "bos_id": vocab.bos_id,
        "eos_id": vocab.eos_id,
    }


def read_vocab(folder: Path, raw: Any, where: str) -> Vocab:
    """The vocabulary a ``vocab`` entry names in ``folder``, checked against the entry.

    Raises:
        ModelFolderError: the file is missing, is not a catsmt vocabulary, or differs from
            the one recorded (hash, size or special ids).
    """
    name = _field(raw, "file", str, where)
    path = folder / name
    if Path(name).name != name:
        raise ModelFolderError(f"{where}: vocab.file must be a file name in the folder, got {name!r}")
    try:
        vocab = Vocab.load(path)
    except DataError as e:
        raise ModelFolderError(f"{where}: {e}") from None
    if vocab.digest != _field(raw, "sha256", str, where):
        raise ModelFolderError(f"{path} is not the vocabulary {where} records (its sha256 differs)")
    for key in ("size", "pad_id", "unk_id", "bos_id", "eos_id"):
        expected = _field(raw, key, int, where)
        if getattr(vocab, key) != expected:
            raise ModelFolderError(f"{path}: {key} is {getattr(vocab, key)}, {where} records {expected}")
    return vocab


# -- the two files of a run folder -------------------------------------------------------


def save_run_languages(run: str | Path, languages: Languages) -> None:
    """Keep the vocabulary beside a run's checkpoints: ``RUN/sentencepiece.model`` and
    ``RUN/languages.json`` (each written atomically; the JSON last, as the commit point).

    A run's vocabulary and tasks never change (a resume refuses ``data.*`` changes), so the
    trainer writes these once, when it has prepared the data.
    """
    run = Path(run)
    languages.vocab.save(run / VOCAB_FILE)
    text = json.dumps({"vocab": vocab_json(languages.vocab), "languages": languages.to_json()}, indent=2)
    write_atomic(run / RUN_LANGUAGES_FILE, text + "\n")


def find_run_languages(folders: Sequence[Path]) -> Languages | None:
    """The languages kept in the first of ``folders`` that has ``languages.json``, or None.

    Raises:
        ModelFolderError: that folder's files are damaged or do not match each other.
    """
    for folder in folders:
        path = folder / RUN_LANGUAGES_FILE
        if path.is_file():
            raw = _read_json(path)
            vocab = read_vocab(folder, _field(raw, "vocab", dict, str(path)), str(path))
            return Languages.from_json(_field(raw, "languages", dict, str(path)), vocab, str(path))
    return None


# -- the model folder ----------------------------------------------------------------------


@dataclass
class ModelInfo:
    """What catsmt.json says: everything about an exported model but its weights.

    Attributes:
        model: the resolved model config.
        languages: vocabulary and tasks.
        decode: the decoding defaults of the run it came from.
        step: the training step of its (newest) checkpoint.
        source: where the weights came from: ``{"run", "checkpoints", "average_last"}``.
        weights: how they are stored: ``{"format", "file", ...}`` (filled in when written).
    """

    model: ModelConfig
    languages: Languages
    decode: DecodeConfig
    step: int
    source: dict[str, Any]
    weights: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The content of catsmt.json."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "catsmt_version": __version__,
            "model": to_dict(self.model),
            "vocab": vocab_json(self.languages.vocab),
            "languages": self.languages.to_json(),
            "decode": to_dict(self.decode),
            "weights": self.weights,
            "step": self.step,
            "source": self.source,
        }


def is_model_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder with a catsmt.json (an exported model, of any format)."""
    return (Path(path) / META_FILE).is_file()


def check_new_folder(out: str | Path) -> Path:
    """``out`` as a folder to export into: absent, or an empty folder.

    Raises:
        ModelFolderError: ``out`` is a file, or a folder that is not empty.
    """
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise ModelFolderError(f"{out} exists and is not a folder; choose another output folder")
        if any(out.iterdir()):
            raise ModelFolderError(f"{out} exists and is not empty; choose another output folder or remove it")
    return out


def write_folder(out: str | Path, info: ModelInfo, write_weights: Callable[[Path], dict[str, Any]]) -> Path:
    """Write a model folder: the vocabulary, the weights, then catsmt.json, then rename.

    Args:
        out: the folder to create (absent or empty; its parents are created).
        info: what catsmt.json records; ``info.weights`` is set from ``write_weights``.
        write_weights: writes the weights into the folder it is given (which already holds
            ``sentencepiece.model``) and returns the ``weights`` entry of catsmt.json.

    Returns:
        ``out``.

    Raises:
        ModelFolderError: ``out`` exists and is not empty.
        OSError: the disk is full or the folder not writable; nothing is left behind.
    """
    out = check_new_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)  # a leftover of a killed export with this pid
    tmp.mkdir()
    try:
        info.languages.vocab.save(tmp / VOCAB_FILE)
        info.weights = write_weights(tmp)
        write_atomic(tmp / META_FILE, json.dumps(info.to_json(), indent=2, ensure_ascii=False) + "\n")
        check_new_folder(out)  # still absent or empty: nobody wrote there meanwhile
        if out.is_dir():
            out.rmdir()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(out.parent)
    return out


def untied(weights: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Each tensor once: ``(tensors, tied)`` where ``tied`` maps a dropped name to the kept
    name holding the same storage (``tgt_embed.weight`` -> ``embed.weight``)."""
    kept: dict[str, Tensor] = {}
    tied: dict[str, str] = {}
    seen: dict[tuple[int, tuple[int, ...], tuple[int, ...], torch.dtype], str] = {}
    for name, tensor in weights.items():
        key = (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if tensor.numel() and key in seen:
            tied[name] = seen[key]
            continue
        seen[key] = name
        kept[name] = tensor.detach().to("cpu").contiguous()
    return kept, tied


def save_model_folder(out: str | Path, weights: Mapping[str, Tensor], info: ModelInfo) -> Path:
    """Write a model folder with the weights as ``model.safetensors`` (see the module docstring).

    Args:
        out: the folder to create (absent or empty).
        weights: the model's ``state_dict()`` (tied tensors share storage and are stored once).
        info: what catsmt.json records.

    Raises:
        ModelFolderError, OSError: as :func:`write_folder`.
    """
    from safetensors.torch import save

    tensors, tied = untied(weights)

    def write(folder: Path) -> dict[str, Any]:
        data = save(tensors, metadata={"format": "pt"})
        write_atomic(folder / WEIGHTS_FILE, data)
        return {
            "format": SAFETENSORS,
            "file": WEIGHTS_FILE,
            "sha256": hashlib.sha256(data).hexdigest(),
            "tied": tied,
        }

    return write_folder(out, info, write)


def read_model_info(path: str | Path) -> ModelInfo:
    """Read catsmt.json and the vocabulary of a model folder (nothing else is opened).

    Raises:
        ModelFolderError: a missing or damaged file, a newer format, or keys that do not fit.
    """
    folder = Path(path)
    meta_path = folder / META_FILE
    where = str(meta_path)
    if not meta_path.is_file():
        raise ModelFolderError(f"{folder} is not a model folder (no {META_FILE}); export one with `catsmt export RUN OUT`")
    raw = _read_json(meta_path)
    if raw.get("format") != FORMAT:
        raise ModelFolderError(f"{where}: format is {raw.get('format')!r}, expected {FORMAT!r}")
    version = _field(raw, "format_version", int, where)
    if version > FORMAT_VERSION:
        raise ModelFolderError(
            f"{where} has format_version {version}; this catsmt reads up to {FORMAT_VERSION} (upgrade catsmt)"
        )
    vocab = read_vocab(folder, _field(raw, "vocab", dict, where), where)
    languages = Languages.from_json(_field(raw, "languages", dict, where), vocab, where)
    try:
        model = from_dict(ModelConfig, _field(raw, "model", dict, where), "model")
        decode = from_dict(DecodeConfig, _field(raw, "decode", dict, where), "decode")
        decode.validate()
    except (ConfigError, ValueError) as e:
        raise ModelFolderError(f"{where}: {e}") from None
    weights = _field(raw, "weights", dict, where)
    _field(weights, "format", str, f"{where}: weights")
    return ModelInfo(
        model=model,
        languages=languages,
        decode=decode,
        step=_field(raw, "step", int, where),
        source=_field(raw, "source", dict, where),
        weights=weights,
    )


def read_weights(path: str | Path, info: ModelInfo) -> dict[str, Tensor]:
    """The full ``state_dict`` stored in a safetensors model folder (tied names restored).

    Raises:
        ModelFolderError: the folder holds another format, or the file is missing or damaged.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    folder = Path(path)
    where = str(folder / META_FILE)
    if info.weights.get("format") != SAFETENSORS:
        raise ModelFolderError(
            f"{folder} holds {info.weights.get('format')} weights, not {SAFETENSORS}; "
            "load it with catsmt.load_model (CTranslate2 folders need `pip install catsmt[ct2]`)"
        )
    name = _field(info.weights, "file", str, f"{where}: weights")
    file = folder / name
    try:
        data = file.read_bytes()
    except OSError as e:
        raise ModelFolderError(f"cannot read the weights {file}: {e.strerror or e}") from None
    if hashlib.sha256(data).hexdigest() != _field(info.weights, "sha256", str, f"{where}: weights"):
        raise ModelFolderError(f"{file} is corrupted or truncated: its sha256 is not the one {where} records")
    try:
        tensors = load(data)
    except SafetensorError as e:
        raise ModelFolderError(f"{file} is not a safetensors file: {e}") from None
    for alias, name in _field(info.weights, "tied", dict, f"{where}: weights").items():
        if name not in tensors:
            raise ModelFolderError(f"{where}: weights.tied names {name}, which {file} does not hold")
        tensors[alias] = tensors[name]
    return tensors


# -- JSON helpers --------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ModelFolderError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ModelFolderError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(raw, dict):
        raise ModelFolderError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    return raw


def _field(raw: Any, key: str, kind: type, where: str) -> Any:
    """``raw[key]``, which must be of ``kind`` (bool is not an int here)."""
    if not isinstance(raw, dict) or key not in raw:
        raise ModelFolderError(f"{where}: no '{key}' entry")
    value = raw[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ModelFolderError(f"{where}: '{key}' should be a {kind.__name__}, got {value!r}")
    return value
