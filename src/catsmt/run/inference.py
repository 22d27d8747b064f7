"""A trained model loaded for inference: checkpoint lookup, averaging, weights and vocabulary.

``load_for_inference(PATH)`` accepts what a user has at hand after training:

- a run folder ``RUN`` -- the checkpoint is ``RUN/checkpoints/best.pt`` (``checkpoint="best"``),
  ``last.pt`` (``"last"``) or a file named by ``checkpoint`` (a path, or a name inside
  ``RUN/checkpoints`` such as ``step-0000800.pt``);
- a checkpoint file.

The configuration is rebuilt from the checkpoint (``ckpt["config"]``), the vocabulary and
data come from :func:`~catsmt.data.prepare_data` with the run's data section and seed (its
cache makes this a file lookup), and the weights are loaded with ``weights_only=True``.
With ``average_last=N`` the weights are the element-wise mean of the last ``N`` step
checkpoints ``RUN/checkpoints/step-*.pt`` (checkpoint averaging, as fairseq's
``average_checkpoints.py --num-epoch-checkpoints``).

``load_translation_model(PATH)`` is what translation uses: it accepts a model folder
written by ``catsmt export`` (:mod:`catsmt.run.model_folder`) as well, and needs only the
vocabulary, never the corpus -- it reads ``RUN/sentencepiece.model`` and
``RUN/languages.json`` when the run keeps them (beside a checkpoint file, or one folder up
from ``RUN/checkpoints/``). Only a run folder without them (trained before they were kept)
falls back to the corpus that the checkpoint's config names, as ``load_inference_model``
does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from catsmt.config import Config, DecodeConfig, from_dict
from catsmt.data import MultilingualData, Vocab, prepare_data
from catsmt.data.errors import DataError
from catsmt.model import Transformer, build_model
from catsmt.model.config import ModelConfig
from catsmt.run import model_folder
from catsmt.run.checkpoint import CheckpointError, load_checkpoint, step_checkpoints
from catsmt.run.device import resolve_device
from catsmt.run.model_folder import Languages, ModelInfo

log = logging.getLogger(__name__)

#: Named checkpoints of a run folder; anything else given as ``checkpoint`` is a file.
NAMED_CHECKPOINTS: dict[str, str] = {"best": "best.pt", "last": "last.pt"}


@dataclass
class InferenceModel:
    """A model loaded for translation, with where its weights came from.

    Attributes:
        model: the Transformer, in eval mode, on the requested device.
        cfg: the run's resolved configuration (from the checkpoint).
        data: vocabulary, tasks and held-out text of the run's corpus.
        sources: the checkpoint file(s) whose weights were loaded (several when averaged).
        step: training step of the (newest) checkpoint.
    """

    model: Transformer
    cfg: Config
    data: MultilingualData
    sources: list[Path]
    step: int

    @property
    def description(self) -> str:
        """The checkpoint as results record it: a path, or the averaged paths."""
        return _describe(self.sources)

    @property
    def languages(self) -> MultilingualData:
        """What translation reads of the data (see :class:`TranslationModel`)."""
        return self.data


def _describe(sources: Sequence[Path]) -> str:
    if len(sources) == 1:
        return str(sources[0])
    return f"average of {len(sources)}: " + ", ".join(str(p) for p in sources)


@dataclass
class TranslationModel:
    """A model loaded for translation alone: the weights and the vocabulary, no corpus.

    Attributes:
        model: the Transformer, in eval mode, on the requested device.
        languages: the vocabulary and the tasks (source and target language of each).
        decode: the decoding defaults of the run (or of the exported folder).
        sources: the files whose weights were loaded (checkpoints, or model.safetensors).
        step: training step of the (newest) checkpoint.
        origin: where those weights came from, for an exported folder (its catsmt.json
            ``source``: run, checkpoints, average_last); for a run, the same keys.
    """

    model: Transformer
    languages: Languages
    decode: DecodeConfig
    sources: list[Path]
    step: int
    origin: dict[str, Any]

    @property
    def description(self) -> str:
        """The weights as results record them: a path, or the averaged paths."""
        return _describe(self.sources)

    def info(self) -> ModelInfo:
        """What a model folder exported from this model records (catsmt.json)."""
        return ModelInfo(self.model.cfg, self.languages, self.decode, self.step, dict(self.origin))


def resolve_checkpoint(path: str | Path, checkpoint: str = "best") -> Path:
    """The checkpoint file that ``path`` (a run folder or a file) and ``checkpoint`` name.

    Args:
        path: a run folder or a checkpoint file.
        checkpoint: for a run folder, ``"best"``, ``"last"`` or a file (a path, or a name in
            ``RUN/checkpoints``). With a checkpoint file as ``path`` it must stay ``"best"``
            (the default).

    Raises:
        CheckpointError: ``path`` does not exist, or the named checkpoint is not there
            (the message lists the checkpoints that are).
        ValueError: a checkpoint file as ``path`` together with another ``checkpoint``.
    """
    path = Path(path)
    if path.is_file():
        if checkpoint != "best":
            raise ValueError(
                f"{path} is a checkpoint file, so --checkpoint {checkpoint} has nothing to "
                "choose from; pass the run folder to choose best, last or a step checkpoint"
            )
        return path
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such run folder or checkpoint file")
    directory = path / "checkpoints"
    if checkpoint in NAMED_CHECKPOINTS:
        found = directory / NAMED_CHECKPOINTS[checkpoint]
    else:
        given = Path(checkpoint)
        found = given if given.is_file() or given.is_absolute() else directory / given
    if not found.is_file():
        raise CheckpointError(f"no checkpoint {found}; {_available(path)}")
    return found


def _available(run: Path) -> str:
    directory = run / "checkpoints"
    names = sorted(p.name for p in directory.glob("*.pt")) if directory.is_dir() else []
    if not names:
        return f"{run} has no checkpoints/ with .pt files (is it a catsmt run folder?)"
    return f"checkpoints in {directory}: {', '.join(names)}"


def last_step_checkpoints(directory: str | Path, n: int) -> list[Path]:
    """The newest ``n`` step checkpoints ``step-*.pt`` in ``directory``, oldest first.

    Raises:
        ValueError: ``n < 1``.
        CheckpointError: fewer than ``n`` step checkpoints exist (the message says how many
            there are and how to keep more).
    """
    if n < 1:
        raise ValueError(f"the number of checkpoints to average must be >= 1, got {n}")
    found = [p for _, p in step_checkpoints(directory)]
    if len(found) < n:
        have = ", ".join(p.name for p in found) or "none"
        raise CheckpointError(
            f"cannot average the last {n} checkpoints: {directory} has {len(found)} step "
            f"checkpoints ({have}); train with train.keep_last={n} or more to keep them"
        )
    return found[-n:]


def average_checkpoints(paths: Sequence[str | Path]) -> dict[str, Tensor]:
    """The element-wise mean of the model weights in ``paths``.

    Floating-point tensors are summed in float64 and cast back to their dtype; other tensors
    (integer buffers) must be equal in every checkpoint and are taken as they are.

    Returns:
        A model ``state_dict``.

    Raises:
        ValueError: ``paths`` is empty.
        CheckpointError: a file is unreadable, holds no model, or has other parameters or
            shapes than the first.
    """
    if not paths:
        raise ValueError("no checkpoints to average")
    total: dict[str, Tensor] = {}
    first: dict[str, Tensor] = {}
    for i, path in enumerate(paths):
        weights = _model_weights(load_checkpoint(path), Path(path))
        if i == 0:
            first = weights
            total = {k: v.double() if v.is_floating_point() else v.clone() for k, v in weights.items()}
            continue
        if weights.keys() != first.keys():
            extra = sorted(set(weights) ^ set(first))
            raise CheckpointError(
                f"cannot average {path} with {paths[0]}: their parameters differ ({', '.join(extra[:5])})"
            )
        for k, v in weights.items():
            if v.shape != first[k].shape:
                raise CheckpointError(
                    f"cannot average {path} with {paths[0]}: '{k}' has shape {tuple(v.shape)} "
                    f"vs {tuple(first[k].shape)}"
                )
            if v.is_floating_point():
                total[k] += v.double()
            elif not torch.equal(v, first[k]):
                raise CheckpointError(f"cannot average {path} with {paths[0]}: buffer '{k}' differs")
    n = len(paths)
    return {
        k: (v / n).to(first[k].dtype) if first[k].is_floating_point() else v for k, v in total.items()
    }


def _model_weights(state: dict[str, Any], path: Path) -> dict[str, Tensor]:
    weights = state.get("model")
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path} holds no model weights (no 'model' entry)")
    return weights


def _config_of(state: dict[str, Any], path: Path) -> Config:
    raw = state.get("config")
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path} holds no resolved config (no 'config' entry)")
    return from_dict(Config, raw)


def _sources(path: str | Path, average_last: int, checkpoint: str) -> list[Path]:
    """The checkpoint file(s) whose weights :func:`load_inference_model` loads."""
    if average_last < 0:
        raise ValueError(f"average_last must be >= 0, got {average_last}")
    if average_last == 0:
        return [resolve_checkpoint(path, checkpoint)]
    if checkpoint != "best":
        raise ValueError(
            f"--average-last averages the newest step checkpoints; it cannot be combined "
            f"with --checkpoint {checkpoint}"
        )
    root = Path(path)
    if root.is_file():  # a file inside RUN/checkpoints: average its neighbours
        directory = root.parent
    elif root.is_dir():
        directory = root / "checkpoints"
    else:
        raise CheckpointError(f"{root}: no such run folder or checkpoint file")
    return last_step_checkpoints(directory, average_last)


def read_config(path: str | Path, average_last: int = 0, checkpoint: str = "best") -> Config:
    """The resolved configuration stored in the checkpoint that ``load_inference_model`` uses.

    Raises:
        CheckpointError, ConfigError, ValueError: as :func:`load_inference_model`.
    """
    source = _sources(path, average_last, checkpoint)[-1]
    return _config_of(load_checkpoint(source), source)


def load_inference_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    average_last: int = 0,
    checkpoint: str = "best",
) -> InferenceModel:
    """Load a model for translation, with the checkpoint(s) it came from.

    Args:
        path: a run folder or a checkpoint file (see the module docstring).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        average_last: when > 0, average the weights of the last this-many step checkpoints
            in the run's ``checkpoints/`` (the configuration is the newest one's).
        checkpoint: ``"best"``, ``"last"`` or a file; see :func:`resolve_checkpoint`.

    Raises:
        CheckpointError: a missing run folder, checkpoint or step checkpoints, or an unusable file.
        ConfigError: the checkpoint's config does not load in this version of catsmt.
        DataError: the run's corpus cannot be read, or its vocabulary does not fit the model.
        ValueError: an unavailable device, or conflicting ``path`` and ``checkpoint``.
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    sources = _sources(path, average_last, checkpoint)
    newest = load_checkpoint(sources[-1])
    weights = average_checkpoints(sources) if len(sources) > 1 else _model_weights(newest, sources[-1])
    cfg = _config_of(newest, sources[-1])
    _check_corpus(cfg)
    data = prepare_data(cfg.data)  # the same vocabulary for every training seed
    model = _build(
        cfg.model, data.vocab, weights, sources[-1], dev,
        f"the corpus in {cfg.data.dir} now gives {data.vocab.size} pieces; was the corpus or its cache changed?",
    )
    return InferenceModel(model, cfg, data, sources, int(newest.get("step", -1)))


def _check_corpus(cfg: Config) -> None:
    if not Path(cfg.data.dir).is_dir():
        raise DataError(
            f"the corpus this model was trained on, {cfg.data.dir} (data.dir in its config), is "
            f"not there{' (a path relative to where training ran)' if not Path(cfg.data.dir).is_absolute() else ''}; "
            "its vocabulary is needed to translate"
        )


def _build(
    cfg: ModelConfig, vocab: Vocab, weights: dict[str, Tensor], source: Path, dev: torch.device, mismatch: str
) -> Transformer:
    """The model of ``cfg`` with ``weights`` (from ``source``), in eval mode on ``dev``.

    Raises:
        DataError: the weights' vocabulary size is not ``vocab.size`` (``mismatch`` says why).
        CheckpointError: the weights do not fit the model.
    """
    model = build_model(cfg, vocab.size, vocab.pad_id)
    embed = weights.get("embed.weight")
    if embed is not None and embed.shape[0] != vocab.size:
        raise DataError(f"{source} was trained with a {embed.shape[0]}-piece vocabulary but {mismatch}")
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"{source}: weights do not fit the model of its config: {e}") from e
    return model.to(dev).eval()


def _kept_beside(path: Path, source: Path) -> list[Path]:
    """Where a run keeps its vocabulary for ``source``: the run folder ``path`` when one was
    given, the checkpoint's folder, and the run folder above ``RUN/checkpoints/``."""
    folders = [path] if path.is_dir() else []
    folders.append(source.parent)
    if source.parent.name == "checkpoints":
        folders.append(source.parent.parent)
    return folders


def load_translation_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    average_last: int = 0,
    checkpoint: str = "best",
) -> TranslationModel:
    """Load a model to translate with: weights and vocabulary only.

    Args:
        path: a model folder (``catsmt export``), a run folder or a checkpoint file.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        average_last, checkpoint: which checkpoint(s) of a run, as :func:`load_inference_model`;
            a model folder holds one set of weights, so both must keep their defaults.

    A model folder is read alone. A run keeps its vocabulary in ``RUN/sentencepiece.model``
    and ``RUN/languages.json`` (see :mod:`catsmt.run.model_folder`); only a run without them
    reads the corpus named by its checkpoint's config (a log line says so).

    Raises:
        ModelFolderError: a damaged model folder, or one of CTranslate2 weights.
        CheckpointError, ConfigError, DataError, ValueError: as :func:`load_inference_model`,
            and ``checkpoint`` or ``average_last`` given with a model folder.
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    root = Path(path)
    if model_folder.is_model_folder(root):
        if checkpoint != "best" or average_last:
            raise ValueError(
                f"{root} is a model folder, which holds one set of weights: --checkpoint and "
                "--average-last choose among a run's checkpoints"
            )
        info = model_folder.read_model_info(root)
        weights = model_folder.read_weights(root, info)
        file = root / str(info.weights["file"])
        model = _build(
            info.model, info.languages.vocab, weights, file, dev,
            f"its vocabulary has {info.languages.vocab.size}",
        )
        return TranslationModel(model, info.languages, info.decode, [file], info.step, info.source)
    sources = _sources(root, average_last, checkpoint)
    newest = load_checkpoint(sources[-1])
    weights = average_checkpoints(sources) if len(sources) > 1 else _model_weights(newest, sources[-1])
    cfg = _config_of(newest, sources[-1])
    kept = _kept_beside(root, sources[-1])
    languages = model_folder.find_run_languages(kept)
    if languages is not None:
        mismatch = f"the vocabulary kept beside it has {languages.vocab.size}"
    else:
        log.info(
            "%s keeps no %s beside its checkpoints (trained by an older catsmt): reading the "
            "vocabulary from the corpus in %s; `catsmt export` makes a folder that needs no corpus",
            root, model_folder.RUN_LANGUAGES_FILE, cfg.data.dir,
        )
        _check_corpus(cfg)
        data = prepare_data(cfg.data)
        languages = Languages.of(data)
        mismatch = f"the corpus in {cfg.data.dir} now gives {data.vocab.size} pieces; was the corpus or its cache changed?"
    model = _build(cfg.model, languages.vocab, weights, sources[-1], dev, mismatch)
    run = root if root.is_dir() else kept[-1] if sources[-1].parent.name == "checkpoints" else None
    origin = {
        "run": None if run is None else str(run.resolve()),
        "checkpoints": [str(p.resolve()) for p in sources],  # best.pt moves on: name its step file
        "average_last": average_last,
    }
    return TranslationModel(model, languages, cfg.decode, sources, int(newest.get("step", -1)), origin)


def load_for_inference(
    path: str | Path,
    device: str | torch.device = "cpu",
    average_last: int = 0,
    checkpoint: str = "best",
) -> tuple[Transformer, Config, MultilingualData]:
    """``(model, config, data)`` of a run folder or checkpoint file, ready to translate.

    See :func:`load_inference_model` for the arguments and errors.
    """
    loaded = load_inference_model(path, device, average_last, checkpoint)
    return loaded.model, loaded.cfg, loaded.data
