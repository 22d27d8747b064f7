"""Mutation check: apply one plausible one-line bug at a time to a copy of a module and see
whether its tests notice.

    python tools/mutants.py cats            # the CATS mutants against tests/weighting/test_cats.py
    python tools/mutants.py cats --list     # show them

Each mutant is (name, original line fragment, replacement). The source tree is copied to a
temporary folder and put first on PYTHONPATH, so the checkout is never modified. A mutant
"survives" when the tests still pass; the table goes to stdout as Markdown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CATS_MUTANTS: list[tuple[str, str, str]] = [
    ("no loss rescaling", "losses = losses / losses.mean().abs().clamp_min(1e-12)", "losses = losses"),
    ("no Gram rescaling", "gram = gram / torch.diagonal(gram).mean().clamp_min(1e-30)", "gram = gram"),
    ("Gram rescaled by max diag", "gram = gram / torch.diagonal(gram).mean().clamp_min(1e-30)", "gram = gram / torch.diagonal(gram).max().clamp_min(1e-30)"),
    ("no projection", "self.alpha[idx] = project_capped_simplex(a_b - step * grad, float(a_b.sum()), self.params.alpha_min)", "self.alpha[idx] = a_b - step * grad"),
    ("projection onto sum 1, not the batch's total", "project_capped_simplex(a_b - step * grad, float(a_b.sum()), self.params.alpha_min)", "project_capped_simplex(a_b - step * grad, 1.0, self.params.alpha_min)"),
    ("floor ignored", "project_capped_simplex(a_b - step * grad, float(a_b.sum()), self.params.alpha_min)", "project_capped_simplex(a_b - step * grad, float(a_b.sum()), 0.0)"),
    ("no 1/Lip step cap", "step = min(self.params.alpha_lr, 1.0 / lip) if lip > 0 else self.params.alpha_lr", "step = self.params.alpha_lr"),
    ("Lip with max diag instead of ‖G‖₂", "lip = 2.0 * self.lambda_c * float(torch.linalg.eigvalsh(gram).max())", "lip = 2.0 * self.lambda_c * float(torch.diagonal(gram).max())"),
    ("Lip without the factor 2", "lip = 2.0 * self.lambda_c * float(torch.linalg.eigvalsh(gram).max())", "lip = self.lambda_c * float(torch.linalg.eigvalsh(gram).max())"),
    ("curvature gradient without the factor 2", "grad = sign * losses + 2.0 * self.lambda_c * (gram @ a_b)", "grad = sign * losses + self.lambda_c * (gram @ a_b)"),
    ("curvature gradient without cross terms", "grad = sign * losses + 2.0 * self.lambda_c * (gram @ a_b)", "grad = sign * losses + 2.0 * self.lambda_c * (torch.diagonal(gram) * a_b)"),
    ("loss term with the wrong sign", "grad = sign * losses + 2.0 * self.lambda_c * (gram @ a_b)", "grad = -sign * losses + 2.0 * self.lambda_c * (gram @ a_b)"),
    ("ascent maps to descent", '"ascent": -1.0', '"ascent": 1.0'),
    ("λ_c ascent at the new α", "max(0.0, self.lambda_c + p.multiplier_lr * (curv - p.curvature_bound))", "max(0.0, self.lambda_c + p.multiplier_lr * (float(curvature(self.alpha[idx], gram)) - p.curvature_bound))"),
    ("λ_c not capped", "self.lambda_c = min(p.resolved_lambda_max, max(0.0,", "self.lambda_c = min(float('inf'), max(0.0,"),
    ("λ_c not kept >= 0", "self.lambda_c = min(p.resolved_lambda_max, max(0.0,", "self.lambda_c = min(p.resolved_lambda_max, max(-1e9,"),
    ("λ_c ascends without ε", "(curv - p.curvature_bound))", "(curv))"),
    ("default λ_max unbounded", 'return 1.0 if self.mode == "projected" else math.inf', "return math.inf"),
    ("model update not renormalised", "return (a / a.sum()).float()", "return a.float()"),
    ("loss weights left on the CPU", "return self.batch_alpha(langs).to(n_tokens.device)", "return self.batch_alpha(langs)"),
    ("projection: off-by-one threshold", "tau = float(cumulative[active - 1]) / active", "tau = float(cumulative[active - 1]) / (active + 1)"),
    ("literal: λ_s ascends on (Σα−1), not its square", "(sum_b - 1.0) * (sum_b - 1.0))", "(sum_b - 1.0))"),
    ("literal: λ_n with the wrong sign", "p.multiplier_lr * (p.alpha_min - a_b)).clamp_min(0.0)", "p.multiplier_lr * (a_b - p.alpha_min)).clamp_min(0.0)"),
    ("literal: α ascends", "self.alpha[idx] = a_b - p.alpha_lr * grad", "self.alpha[idx] = a_b + p.alpha_lr * grad"),
    ("literal: sum over all N, not the batch", "sum_b = float(a_b.sum())", "sum_b = float(self.alpha.sum())"),
    ("literal: model update renormalised", 'if self.params.mode == "literal":\n            return a.float()', 'if False:\n            return a.float()'),
    ("alpha_min × N not checked", 'if params.mode == "projected" and params.alpha_min * n > 1.0 + 1e-12:', "if False:"),
]

SUITES = {"cats": ("src/catsmt/weighting/cats.py", CATS_MUTANTS, ["tests/weighting/test_cats.py"])}


def run(suite: str) -> int:
    target, mutants, tests = SUITES[suite]
    original = (ROOT / target).read_text()
    rows = []
    for name, old, new in mutants:
        if original.count(old) != 1:
            print(f"mutant '{name}': fragment found {original.count(old)} times, fix the table", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(ROOT / "src", Path(tmp) / "src")
            (Path(tmp) / target).write_text(original.replace(old, new))
            env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src"), "OMP_NUM_THREADS": "1"}
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                cwd=ROOT, env=env, capture_output=True, text=True,
            )
            killed_by = ""
            for line in proc.stdout.splitlines():
                if line.startswith("FAILED "):
                    killed_by = line.split("::", 1)[-1].split(" ")[0]
                    break
            rows.append((name, "killed" if proc.returncode != 0 else "**survived**", killed_by))
            print(f"{name}: {rows[-1][1]} {killed_by}", file=sys.stderr)
    print("| mutant | result | first failing test |\n|---|---|---|")
    for name, result, test in rows:
        print(f"| {name} | {result} | {test} |")
    survived = sum(r[1] != "killed" for r in rows)
    print(f"\n{len(rows) - survived} of {len(rows)} mutants killed")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    if args.list:
        for name, old, new in SUITES[args.suite][1]:
            print(f"{name}:\n  - {old}\n  + {new}")
        return 0
    return run(args.suite)


if __name__ == "__main__":
    raise SystemExit(main())
