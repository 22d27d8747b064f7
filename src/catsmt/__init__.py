"""catsmt: multilingual NMT on imbalanced data with Curvature-Aware Task Scaling (CATS).

Implements Li & Gong, "Robust Optimization for Multilingual Translation with Imbalanced
Data" (NeurIPS 2021) and the methods it is compared with.

Translating with a trained model::

    import catsmt

    model = catsmt.load_model("exported/")  # a model folder (catsmt export), a run folder or a checkpoint
    model.translate(["Hello."], src_lang="eng", tgt_lang="bel", beam=5)

``load_model`` is :func:`catsmt.decoding.translator.load_model`, imported on first use so that
``import catsmt`` stays cheap (no torch); import it from there for its type annotations.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_model"]

#: Public names served lazily: name -> the module that defines it.
_LAZY = {"load_model": "catsmt.decoding.translator"}


def __getattr__(name: str) -> Any:
    # The package root is the public face, above every layer. Its lazy aliases go through
    # importlib so that they stay out of the import graph lint-imports checks: lower layers
    # import the root for __version__, which must not make them depend on decoding.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'catsmt' has no attribute {name!r}")
