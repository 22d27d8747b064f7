"""docs/weighting.md's example runs, with every registered method, and its table is complete."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from catsmt.weighting import WEIGHTINGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "weighting.md"
MARKER = "<!-- example: two-task loop -->"


def example_code() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC} lost its example marker"
    match = re.search(r"```python\n(.*?)```", text[text.index(MARKER) :], re.DOTALL)
    assert match, f"no python block after the example marker in {DOC}"
    return match.group(1)


@pytest.fixture(scope="module")
def example() -> Iterator[dict[str, Any]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    try:
        namespace: dict[str, Any] = {"__name__": "docs_example"}
        exec(compile(example_code(), str(DOC), "exec"), namespace)
        yield namespace
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(WEIGHTINGS))
def test_example_trains_with_every_method(example: dict[str, Any], name: str) -> None:
    train = example["train"]
    hparams = {"layer_prefix": "trunk.2."} if name == "gradnorm" else {}
    before = train(name, steps=0, **hparams)
    after = train(name, steps=60, **hparams)
    assert all(torch.isfinite(torch.tensor(v)) for v in after.values())
    assert sum(after.values()) < sum(before.values())


def test_table_lists_every_registered_method() -> None:
    table = DOC.read_text(encoding="utf-8")
    for name in WEIGHTINGS:
        assert f"| `{name}` |" in table, f"docs/weighting.md's table misses '{name}'"
