"""``catsmt export``: a run's checkpoint (or an average of several) as a model folder.

The formats are a plain dict, as the CLI's ``--format`` choices read it: ``safetensors``
(:func:`~catsmt.run.model_folder.save_model_folder`, what catsmt loads) and ``ct2``
(:func:`~catsmt.run.ct2.save_ct2_folder`, for CTranslate2; needs ``catsmt[ct2]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from torch import Tensor

from catsmt.run.ct2 import save_ct2_folder
from catsmt.run.inference import load_translation_model
from catsmt.run.model_folder import ModelInfo, check_new_folder, save_model_folder

#: Export formats: name -> writer(out, state_dict, info).
FORMATS: dict[str, Callable[[Path, Mapping[str, Tensor], ModelInfo], Path]] = {
    "safetensors": save_model_folder,
    "ct2": save_ct2_folder,
}


def export_model(
    path: str | Path,
    out: str | Path,
    checkpoint: str = "best",
    average_last: int = 0,
    format: str = "safetensors",
) -> ModelInfo:
    """Write the model of ``path`` to a new folder ``out`` that needs nothing else to translate.

    Args:
        path: a run folder, a checkpoint file, or a model folder (to convert it).
        out: the folder to create; it must be absent or empty.
        checkpoint: ``"best"``, ``"last"`` or a checkpoint file of the run.
        average_last: average the run's last this-many step checkpoints (0 = off).
        format: a key of :data:`FORMATS`.

    Returns:
        What ``out/catsmt.json`` records.

    Raises:
        ModelFolderError: ``out`` exists and is not empty (checked before anything is read),
            or CTranslate2 is missing for ``format="ct2"``.
        CheckpointError, ConfigError, DataError, ValueError: as
            :func:`~catsmt.run.inference.load_translation_model`; an unknown ``format``.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format '{format}'; valid formats: {', '.join(FORMATS)}")
    out = check_new_folder(out)
    loaded = load_translation_model(path, "cpu", average_last, checkpoint)
    info = loaded.info()
    FORMATS[format](out, loaded.model.state_dict(), info)
    return info
