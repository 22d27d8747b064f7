"""``summary_text``: what ``catsmt evaluate RUN`` prints ends with both sacrebleu signatures."""

from __future__ import annotations

from typing import Any

from catsmt.evaluation.run_eval import summary_text
from catsmt.evaluation.scores import score_languages


def test_the_summary_prints_the_bleu_and_the_chrf_signature() -> None:
    hyps = {"be": ["a small cat", "the dog runs"], "ru": ["hello there"]}
    refs = {"be": ["a small cat", "a dog runs"], "ru": ["hello here"]}
    scores = score_languages(hyps, refs, {"be": "low", "ru": "high"}, "test", beam=1)
    result: dict[str, Any] = {
        **scores, "checkpoint": "best", "step": 6,
        "speed": {"sentences": 3, "target_tokens": 12, "seconds": 0.5, "target_tokens_per_s": 24.0},
    }
    lines = summary_text(result, "run").splitlines()
    bleu, chrf = scores["signature"]["bleu"], scores["signature"]["chrf"]
    assert bleu.startswith("nrefs:1|") and "tok:13a" in bleu and "nc:6|nw:0" in chrf
    assert lines[-2:] == [bleu, chrf]
