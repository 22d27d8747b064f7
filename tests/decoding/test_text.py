"""catsmt.decoding.text without a model: cutting over-long sources, and streams whose input fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catsmt.decoding import text
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import cut_to_fit, translate_stream


def test_cut_to_fit_warns_with_the_line_number(caplog: pytest.LogCaptureFixture) -> None:
    sources = [[3, 4, 2], [3, *range(4, 14), 2]]
    with caplog.at_level("WARNING"):
        fitted = cut_to_fit(sources, 5, [6, 7], "test.syna line")
    assert fitted == [[3, 4, 2], [3, 4, 5, 6, 2]]
    assert caplog.messages == [
        "test.syna line 7 is 12 tokens long, over the model's limit of 5: translating it cut to 5 tokens"
    ]


def test_stream_yields_the_lines_read_before_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], int]] = []

    def fake_translate(loaded: object, lines: list[str], lang: str, decode: DecodeConfig, first_line: int = 1) -> list[str]:
        seen.append((list(lines), first_line))
        return [line.upper() for line in lines]

    monkeypatch.setattr(text, "translate_lines", fake_translate)

    def lines() -> Iterator[str]:
        yield from ["a", "b", "c", "d", "e"]
        raise ValueError("line 6 is broken")

    out: list[str] = []
    with pytest.raises(ValueError, match="line 6 is broken"):
        for line in translate_stream(None, lines(), "syna", DecodeConfig(), chunk=2):  # type: ignore[arg-type]
            out.append(line)
    assert out == ["A", "B", "C", "D", "E"]
    assert seen == [(["a", "b"], 1), (["c", "d"], 3), (["e"], 5)]  # line numbers carry across chunks
