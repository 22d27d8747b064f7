"""The numbers behind the optimisation figures: windows, level means, Spearman's ρ."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from catsmt.analysis.summary import default_windows, spearman, summarize_run, write_summary


def _brute_spearman(x: list[float], y: list[float]) -> float:
    """Pearson correlation of mean ranks, each rank counted pair by pair (O(n²))."""
    def ranks(v: list[float]) -> list[float]:
        return [sum(w < a for w in v) + (sum(w == a for w in v) - 1) / 2 for a in v]

    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


def test_spearman_without_ties_is_the_textbook_formula() -> None:
    rng = random.Random(0)
    for _ in range(500):
        n = rng.randint(3, 40)
        x = [rng.random() for _ in range(n)]
        y = [a + rng.gauss(0, rng.choice([0.01, 0.3, 3])) for a in x]
        rank_x = {v: k for k, v in enumerate(sorted(x))}
        rank_y = {v: k for k, v in enumerate(sorted(y))}
        d2 = sum((rank_x[a] - rank_y[b]) ** 2 for a, b in zip(x, y, strict=True))
        assert spearman(x, y) == pytest.approx(1 - 6 * d2 / (n * (n * n - 1)), abs=1e-12)


def test_spearman_with_ties_matches_brute_force_mean_ranks() -> None:
    rng = random.Random(1)
    for _ in range(500):
        n = rng.randint(3, 25)
        x = [float(rng.randint(0, 4)) for _ in range(n)]
        y = [float(rng.randint(0, 4)) for _ in range(n)]
        if len(set(x)) == 1 or len(set(y)) == 1:
            assert math.isnan(spearman(x, y))
            continue
        assert spearman(x, y) == pytest.approx(_brute_spearman(x, y), abs=1e-12)
    assert math.isnan(spearman([1.0, 2.0], [2.0, 1.0]))
    with pytest.raises(ValueError, match="3 x values but 2"):
        spearman([1.0, 2.0, 3.0], [1.0, 2.0])


def test_default_windows_are_the_first_quarter_and_the_last_half() -> None:
    assert default_windows(list(range(100, 1501, 100))) == {"early": (100, 400), "late": (800, 1500)}
    assert default_windows([5, 3, 3]) == {"early": (3, 3), "late": (5, 5)}
    assert default_windows([7]) == {"early": (7, 7), "late": (7, 7)}
    with pytest.raises(ValueError, match="no measured steps"):
        default_windows([])


def _events() -> list[dict]:
    groups = {"lo1": "low", "lo2": "low", "hi1": "high"}
    ev: list[dict] = []
    for step in (1, 2, 3, 4):
        for lang, lam in (("lo1", step), ("lo2", 3 * step), ("hi1", 10 * step)):
            if step == 4 and lang == "lo2":
                continue  # a step that misses a language: its level mean is lo1's alone
            ev.append({"event": "curvature", "step": step, "lang": lang, "group": groups[lang], "lambda_max": lam})
            ev.append({"event": "grad_norm", "step": step, "lang": lang, "group": groups[lang], "fisher_trace": lam ** 0.5})
        for pairing, cos in (("HiHi", 0.9), ("LoLo", 0.5), ("HiLo", 0.1 * step)):
            for group, scale in (("all", 1.0), ("E.SA", 0.5)):
                ev.append({"event": "gradsim_pairing", "step": step, "pairing": pairing, "group": group,
                           "cos_mean": cos * scale, "mag_mean": 1 - cos * scale})
    return ev


def test_summary_by_hand() -> None:
    groups = {"lo1": "low", "lo2": "low", "hi1": "high"}
    s = summarize_run(_events(), groups, {"early": (1, 2), "late": (3, 4)})
    # per step the low mean is (s + 3s) / 2 = 2s, except step 4 (lo1 only: 4)
    assert s["lambda_max"]["early"] == pytest.approx({"low": (2 + 4) / 2, "high": (10 + 20) / 2,
                                                      "all": ((1 + 3 + 10) / 3 + (2 + 6 + 20) / 3) / 2})
    assert s["lambda_max"]["late"]["low"] == pytest.approx((6 + 4) / 2)
    assert s["fisher_trace"]["late"]["high"] == pytest.approx((30 ** 0.5 + 40 ** 0.5) / 2)
    assert s["cos"]["late"] == pytest.approx({"HiHi": 0.9, "LoLo": 0.5, "HiLo": 0.35})
    assert s["mag"]["early"]["HiLo"] == pytest.approx(1 - 0.15)
    assert s["last_step"] == 4 and s["cos_by_group"]["HiLo"] == pytest.approx({"all": 0.4, "E.SA": 0.2})
    # ‖g‖² is a monotone function of λ_max in these events: ρ = 1 over all 11 points
    assert s["points"] == 11 and s["spearman_fisher_lambda"] == pytest.approx(1.0)
    assert s["negative_share"] == {"early": 0.0, "late": 0.0}
    flipped = [{**e, "lambda_max": -e["lambda_max"]} if e["event"] == "curvature" and e["lang"] == "hi1" and e["step"] == 4
               else e for e in _events()]
    late = summarize_run(flipped, groups, {"late": (3, 4)})
    assert late["negative_share"]["late"] == pytest.approx(1 / 5)
    assert late["abs_median"]["late"] == 9  # |λ| of steps 3-4: 3, 9, 30, 4, 40
    assert s["abs_median"]["early"] == 4.5  # 1, 3, 10, 2, 6, 20: the mean of the middle two
    # the order of the events does not matter
    events = _events()
    assert summarize_run(random.Random(2).sample(events, len(events)), groups, {"early": (1, 2), "late": (3, 4)}) == s
    # a language without a level counts in no mean
    assert summarize_run(_events(), {"lo1": "low", "hi1": "high"}, {"w": (1, 1)})["lambda_max"]["w"]["low"] == 1
    with pytest.raises(ValueError, match="no curvature or grad_norm events"):
        summarize_run([e for e in _events() if e["event"] == "gradsim_pairing"], groups)


def test_summary_files_have_a_row_per_run(tmp_path) -> None:
    groups = {"lo1": "low", "lo2": "low", "hi1": "high"}
    s = summarize_run(_events(), groups)
    assert s["windows"] == {"early": [1, 1], "late": [3, 4]}
    files = write_summary({"T=1": s, "CATS": s}, tmp_path)
    md = (tmp_path / "summary.md").read_text()
    assert [p.name for p in files] == ["summary.json", "summary.md"]
    assert "| T=1 |" in md and "| CATS |" in md and "| CATS | HiLo |" in md and "early 1-1, late 3-4" in md
    assert np.isclose(float(md.split("| T=1 | ")[1].split(" |")[0]), 2.0)  # λ_max Lo early = 2s at s = 1


def test_self_cosine_is_averaged_by_level_and_shown() -> None:
    groups = {"lo1": "low", "lo2": "low", "hi1": "high"}
    selfs = [{"event": "gradsim_self", "step": step, "lang": lang, "group": groups[lang], "cos": cos}
             for step in (1, 2, 3, 4) for lang, cos in (("lo1", 0.1 * step), ("lo2", 0.3), ("hi1", 0.5))]
    s = summarize_run(_events() + selfs, groups, {"late": (3, 4)})
    assert s["self_cos"]["late"] == pytest.approx({"low": ((0.3 + 0.3) / 2 + (0.4 + 0.3) / 2) / 2, "high": 0.5,
                                                   "all": ((0.3 + 0.3 + 0.5) / 3 + (0.4 + 0.3 + 0.5) / 3) / 2})
    assert summarize_run(_events(), groups)["self_cos"] == {}
