"""report.html renders in a real browser (headless Chromium): its tables and images load.

Skipped where no Chromium is installed (``apt-get install chromium``; .ci/run installs it
when it can).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .test_compare import report  # noqa: F401 - the module fixture with a finished comparison

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.setAttribute('data-probe', JSON.stringify({
    tables: document.querySelectorAll('table.results').length,
    rows: document.querySelectorAll('table.results tbody tr').length,
    images: imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
  }));
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_report_html_renders_tables_and_images(report: Path, tmp_path: Path) -> None:  # noqa: F811
    page = tmp_path / "probe.html"
    page.write_text((report / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    match = re.search(r'data-probe="([^"]*)"', dom)
    assert match, "the page's load handler did not run"
    probe = json.loads(match.group(1).replace("&quot;", '"'))
    assert probe["tables"] == 2 and probe["rows"] >= 4  # BLEU and chrF, two methods each
    assert probe["images"], "no images in the report"
    for complete, width, height in probe["images"]:
        assert complete and width > 100 and height > 100
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1200,1600", (report / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
