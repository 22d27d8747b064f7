"""``catsmt demo`` without network or mirror: one piece of advice, and a command that runs as
it is printed, with no virtual environment activated (as under ``make demo``)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from catsmt.cli import main
from catsmt.report.demo import catsmt_command


def offline(*args: object, **kwargs: object) -> None:
    raise urllib.error.URLError("no network here")


def test_no_mirror_no_network_advises_once_with_a_command_that_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.delenv("CATSMT_MIRROR", raising=False)
    bare_path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                if Path(p).resolve() != Path(sys.executable).parent.resolve())
    monkeypatch.setenv("PATH", bare_path)  # the venv not activated
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("catsmt: error: cannot build tatoeba-ted8: cannot reach ")
    assert err.count("--mirror") == 1 and err.count("CATSMT_MIRROR") == 1  # the advice once
    prefix = "or run the demo on generated data, with no download: "
    assert prefix in err and err.rstrip().endswith(" demo --data synthetic")
    command = shlex.split(err.rstrip().split(prefix, 1)[1])
    assert command[0] != "catsmt"  # not on this PATH

    done = subprocess.run([*command[:-3], "--version"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": bare_path})
    assert done.returncode == 0 and done.stdout.startswith("catsmt "), done.stderr


def test_the_command_is_plain_catsmt_when_that_is_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Path(sys.executable).parent / "catsmt"
    if not script.is_file():
        pytest.skip(f"catsmt is not installed beside {sys.executable}")
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    assert catsmt_command() == "catsmt"
