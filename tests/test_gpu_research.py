"""benchmarks/gpu_research.sh, dry-run on the CPU with tiny settings (the GPU run is the
same script with its defaults)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_research_script_runs_end_to_end_on_the_cpu(tmp_path: Path) -> None:
    from catsmt.data.recipes import build

    data = tmp_path / "data"
    build("synthetic", data, sizes=[200, 200, 40, 40], valid=8, test=8, low_threshold=100)
    out = tmp_path / "out"
    env = {
        **os.environ, "PYTHON": sys.executable, "REQUIRE_CUDA": "0", "DEVICE": "cpu", "PRECISION": "fp32",
        "PRESET": "tiny", "VOCAB": "200", "MAX_TOKENS": "256", "MAX_STEPS": "4", "VALID_EVERY": "2",
        "EVAL_SENTENCES": "4", "METHODS": "t1,cats", "DATA": str(data), "OUT": str(out), "OMP_NUM_THREADS": "1",
        "ANALYSIS_EVERY": "2",
    }
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_research.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert {r["method"] for r in runs} == {"t1", "cats"}
    assert all(r["steps"] == 4 and r["stop_reason"] == "max_steps" for r in runs)
    assert (out / "report.html").stat().st_size > 0 and (out / "runs" / "cats-s1" / "metrics.jsonl").exists()
    assert not list(out.rglob("*.pt")), "checkpoints must not come back"
    assert "gpu_research: done" in (out / "gpu-research.log").read_text()
    summary = (out / "analysis" / "summary.md").read_text()  # the analysis across the runs
    assert "| t1-s1 |" in summary and "| cats-s1 |" in summary
