"""The run folder: one owner for its layout, its checkpoints and loading a model from it.

Everything that reads or writes ``RUN/`` goes through this package -- the trainer, evaluation,
decoding, analysis and the reports -- so that the layout and the checkpoint schema are
written down once::

    RUN/
      config.yaml          the resolved config (a copy for people; the checkpoint's is the truth)
      .lock                held by the process training in RUN (advisory; names its pid)
      sentencepiece.model  the vocabulary, and languages.json its tasks and ids: a model in RUN
      languages.json       loads to translate without the corpus it was trained on
      metrics.jsonl        one JSON event per line (train, valid, analysis)
      summary.json         the last training result
      checkpoints/
        step-0000800.pt    immutable checkpoint files, each with a ``.sha256`` beside it
        last.pt -> step-…  what --resume continues from (a relative symbolic link)
        best.pt -> step-…  the best by validation (a relative symbolic link)
      eval/                scores written by ``catsmt evaluate``

Modules: :mod:`~catsmt.run.folder` (layout, lock, config on resume),
:mod:`~catsmt.run.checkpoint` (the file format and the crash-safe save),
:mod:`~catsmt.run.state` (what a training checkpoint holds, one schema version),
:mod:`~catsmt.run.device` (device and autocast), :mod:`~catsmt.run.inference` (a model
loaded for translation), :mod:`~catsmt.run.model_folder` (the self-contained model folder
of ``catsmt export`` and the run's own vocabulary), :mod:`~catsmt.run.export` and
:mod:`~catsmt.run.ct2` (export formats). This package imports data, model and weighting, never training,
decoding or evaluation.
"""
