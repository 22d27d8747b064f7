"""Training under ``torchrun``: two gloo processes on the CPU against one process.

What is tested (docs/distributed.md):

(a) the ranks hold the same parameters and CATS α after every update, and DDP all-reduces in
    the weighted-loss steps only (``no_sync`` covers every backward of a meta update);
(b) 2 ranks with batch b are one process with ``accum_steps=2`` and batch b: the same batches
    in every update, bitwise, and parameters equal up to float rounding (TOL);
(c) a checkpoint of the 2-process run resumes in 1 process and lands where the 2-process run
    did: the sampler state exactly, the parameters up to TOL.

The 2-process run goes through the real CLI (``python -m torch.distributed.run
--nproc_per_node 2 THIS_FILE train CONFIG``): run as a script, this file wraps
``catsmt.training.trainer.train_step`` with a recorder, calls ``catsmt.cli.main`` and writes
what each rank saw to ``$CATSMT_TEST_RECORD/rank<r>.pt``. Nothing of it is in the library.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

TOL = 2e-3
"""Largest ``‖θ_2ranks − θ_1process‖ / ‖θ_1process − θ_init‖`` allowed after any update. Both
runs compute the same sums in another order (rank-local, then all-reduced), and Adam's
division by sqrt(v) amplifies the rounding where a gradient nearly cancels. Measured here:
2.2e-4 after 12 updates, the same as one process that only reverses the order of the
sub-batches (1.8e-4); weights taken per rank instead of over all ranks give 1e-1."""

ALPHA_TOL = 1e-6
"""Largest |Δα| between the two runs (measured: 3e-8; with weights per rank: 3e-3)."""

STEPS, RESUME_AT = 12, 6
COMMON = [
    "weighting.method=cats", "weighting.update_every=[[0,3]]",  # meta updates at 0, 3, 6, 9
    "model.dropout=0", f"train.max_steps={STEPS}", f"train.valid_every={RESUME_AT}", "train.keep_last=5",
]


# -- the recorder (used in this process and, through __main__, in each torchrun rank) --------
def install_recorder(record: list[dict[str, Any]]) -> None:
    """Wrap the trainer's ``train_step``: after each update append what it saw and left."""
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    import catsmt.training.trainer as trainer

    real = trainer.train_step
    reduces = [0]

    def counting_hook(state, bucket):  # type: ignore[no-untyped-def]  # DDP checks annotations
        reduces[0] += 1
        return allreduce_hook(state, bucket)

    def recording(ctx: Any, method: Any, step: int, parts: Any) -> Any:
        if not record and hasattr(ctx.model, "register_comm_hook"):  # the DDP wrapper, once
            ctx.model.register_comm_hook(None, counting_hook)
        reduces[0] = 0
        before = torch.cat([p.detach().reshape(-1) for p in ctx.params]).clone() if not record else None
        stats = real(ctx, method, step, parts)
        flat = torch.cat([p.detach().reshape(-1) for p in ctx.params])
        state = method.state_dict()
        record.append({
            "step": step,
            "before": before,
            "task_grads": stats.used_task_grads,
            "ddp_reduces": reduces[0],
            "params": flat.clone(),
            "digest": hashlib.sha256(flat.numpy().tobytes()).hexdigest(),
            "alpha": state["alpha"].clone() if "alpha" in state else None,
            "parts": sorted(_part_id(p) for p in parts),
        })
        return stats

    trainer.train_step = recording  # type: ignore[assignment]


def _part_id(part: Any) -> str:
    h = hashlib.sha256()
    for t in (part.src, part.tgt_in, part.tgt_out):
        h.update(t.cpu().numpy().tobytes())
    return f"{part.lang}:{h.hexdigest()[:16]}"


def _harness_main(argv: list[str]) -> int:
    from catsmt.cli import main

    record: list[dict[str, Any]] = []
    install_recorder(record)
    rank = int(os.environ.get("RANK", "0"))
    try:
        return main(argv)
    finally:
        out = Path(os.environ["CATSMT_TEST_RECORD"])
        torch.save(record, out / f"rank{rank}.pt")


# -- helpers ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(
    nproc: int, args: list[str], record_dir: Path, timeout: float = 240, expect_rc: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run this file as the CLI under ``torch.distributed.run`` with ``nproc`` gloo processes."""
    record_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CATSMT_TEST_RECORD": str(record_dir), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()), __file__, *args,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert (proc.returncode == 0) == (expect_rc == 0), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def run_in_process(cfg: Any, resume: bool, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import catsmt.training.trainer as trainer

    record: list[dict[str, Any]] = []
    with monkeypatch.context() as m:
        m.setattr(trainer, "train_step", trainer.train_step)  # restored afterwards
        install_recorder(record)
        trainer.train(cfg, resume=resume)
    return record


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def rel_diff(theta: torch.Tensor, reference: torch.Tensor, init: torch.Tensor) -> float:
    """``‖θ − θ_ref‖ / ‖θ_ref − θ_init‖``: the difference of two runs relative to how far the
    reference run has moved."""
    return float((theta - reference).norm() / (reference - init).norm())


# -- the sampler: one stream shared out over ranks (no processes needed) -------------------
def test_ranks_take_turns_in_one_batch_stream(synthetic_dir: Path) -> None:
    from catsmt.data import prepare_data

    from .conftest import tiny_config

    data = prepare_data(tiny_config(synthetic_dir, synthetic_dir / "unused").data, seed=1)
    probs = {lang: 1 / len(data.langs) for lang in data.langs}
    single = data.sampler(probs, seed=3)
    ranks = [data.sampler(probs, seed=3, rank=r, world_size=2) for r in range(2)]
    for _ in range(6):
        for r in range(2):
            expected, got = single.next_batch(), ranks[r].next_batch()
            assert expected.langs == got.langs
            assert [_part_id(p) for p in expected.parts] == [_part_id(p) for p in got.parts]
    # the state is the stream's: the same on both ranks and on the single process
    assert ranks[0].state_dict() == ranks[1].state_dict() == single.state_dict()
    resumed = data.sampler(probs, seed=3)
    resumed.load_state_dict(ranks[1].state_dict())
    a, b = resumed.next_batch(), single.next_batch()
    assert [_part_id(p) for p in a.parts] == [_part_id(p) for p in b.parts]


# -- 2 processes against 1 ---------------------------------------------------------------
def test_two_ranks_equal_one_process_with_accumulation_and_resume_in_one(
    synthetic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catsmt.config import save_config
    from catsmt.run.checkpoint import load_checkpoint

    from .conftest import tiny_config

    # 1 process, accum_steps=2 (also builds the data cache the ranks will load)
    one = run_in_process(
        tiny_config(synthetic_dir, tmp_path / "one", *COMMON, "train.accum_steps=2"), False, monkeypatch
    )

    # 2 processes through the CLI
    cfg = tiny_config(synthetic_dir, tmp_path / "two", *COMMON)
    save_config(cfg, tmp_path / "two.yaml")
    torchrun(2, ["train", str(tmp_path / "two.yaml")], tmp_path / "record")
    r0, r1 = (torch.load(tmp_path / "record" / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert [e["step"] for e in r0] == [e["step"] for e in r1] == list(range(STEPS))

    # (a) identical on both ranks after every update; all-reduce in weighted steps only
    for e0, e1 in zip(r0, r1, strict=True):
        assert e0["digest"] == e1["digest"], f"parameters differ between ranks at step {e0['step']}"
        assert torch.equal(e0["alpha"], e1["alpha"]), f"CATS alpha differs between ranks at step {e0['step']}"
        assert not set(e0["parts"]) & set(e1["parts"]), "two ranks trained on the same sub-batch"
        if e0["task_grads"]:
            assert e0["ddp_reduces"] == e1["ddp_reduces"] == 0, f"DDP all-reduced in meta update {e0['step']}"
        else:
            assert e0["ddp_reduces"] > 0 and e0["ddp_reduces"] == e1["ddp_reduces"]
    assert sum(e["task_grads"] for e in r0) == 4
    alpha0 = torch.full_like(r0[0]["alpha"], 1 / len(r0[0]["alpha"]))
    assert max_diff(r0[-1]["alpha"], alpha0) > 1e-3, "alpha never moved: the test would prove nothing"

    # (b) the same batches as 1 process with accum_steps=2, and the same parameters up to TOL
    init = one[0]["before"]
    assert torch.equal(r0[0]["before"], init)
    for e0, e1, e in zip(r0, r1, one, strict=True):
        assert sorted(e0["parts"] + e1["parts"]) == e["parts"], f"other batches at step {e['step']}"
        assert rel_diff(e0["params"], e["params"], init) < TOL, (e["step"], rel_diff(e0["params"], e["params"], init))
        assert max_diff(e0["alpha"], e["alpha"]) < ALPHA_TOL, (e["step"], max_diff(e0["alpha"], e["alpha"]))

    # (c) the step-6 checkpoint of the 2-process run, resumed in 1 process (accum 2), ends
    # where the 2-process run ended
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "two", resumed)
    ckdir = resumed / "checkpoints"
    for suffix in ("", ".sha256"):
        shutil.copyfile(ckdir / f"step-{RESUME_AT:07d}.pt{suffix}", ckdir / f"last.pt{suffix}")
    ck = load_checkpoint(ckdir / "last.pt")
    assert ck["step"] == RESUME_AT and len(ck["rng"]) == 2
    again = run_in_process(tiny_config(synthetic_dir, resumed, *COMMON, "train.accum_steps=2"), True, monkeypatch)
    assert [e["step"] for e in again] == list(range(RESUME_AT, STEPS))
    for e, e0 in zip(again, r0[RESUME_AT:], strict=True):
        assert e["parts"] == sorted(e0["parts"] + r1[e0["step"]]["parts"])
        assert rel_diff(e["params"], e0["params"], init) < TOL
    end_two = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.pt")
    end_resumed = load_checkpoint(ckdir / "last.pt")
    assert end_resumed["step"] == end_two["step"] == STEPS
    assert end_resumed["sampler"] == end_two["sampler"]
    assert max_diff(end_resumed["weighting"]["alpha"], end_two["weighting"]["alpha"]) < ALPHA_TOL


def test_two_ranks_equal_one_process_with_token_prior(
    synthetic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CATS's ``token_prior`` weights by the batch's token counts: under DDP those are the
    counts summed over ranks, so both ranks keep one α and match one process."""
    from catsmt.config import save_config

    from .conftest import tiny_config

    common = [*COMMON, "weighting.token_prior=true", "weighting.temperature=2", "weighting.loss_term=none"]
    one = run_in_process(tiny_config(synthetic_dir, tmp_path / "one", *common, "train.accum_steps=2"), False, monkeypatch)
    cfg = tiny_config(synthetic_dir, tmp_path / "two", *common)
    save_config(cfg, tmp_path / "two.yaml")
    torchrun(2, ["train", str(tmp_path / "two.yaml")], tmp_path / "record")
    r0, r1 = (torch.load(tmp_path / "record" / f"rank{r}.pt", weights_only=True) for r in range(2))
    init = one[0]["before"]
    for e0, e1, e in zip(r0, r1, one, strict=True):
        assert e0["digest"] == e1["digest"] and torch.equal(e0["alpha"], e1["alpha"]), e0["step"]
        assert rel_diff(e0["params"], e["params"], init) < TOL, (e["step"], rel_diff(e0["params"], e["params"], init))
        assert max_diff(e0["alpha"], e["alpha"]) < ALPHA_TOL, (e["step"], max_diff(e0["alpha"], e["alpha"]))
    alpha0 = torch.full_like(r0[0]["alpha"], 1 / len(r0[0]["alpha"]))
    assert max_diff(r0[-1]["alpha"], alpha0) > 1e-3, "alpha never moved: the test would prove nothing"


# -- opt-in: more launches -----------------------------------------------------------------
@pytest.mark.slow
def test_rank_zero_error_is_raised_on_every_rank(synthetic_dir: Path, tmp_path: Path) -> None:
    """An existing run folder: both ranks print the error and exit, none waits (~20 s)."""
    from catsmt.config import save_config

    from .conftest import tiny_config

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "something").write_text("x")
    save_config(tiny_config(synthetic_dir, tmp_path / "run"), tmp_path / "cfg.yaml")
    proc = torchrun(2, ["train", str(tmp_path / "cfg.yaml")], tmp_path / "record", timeout=120, expect_rc=1)
    assert proc.stderr.count("catsmt: error: run folder") == 2, proc.stderr[-3000:]


@pytest.mark.slow
def test_two_process_resume_is_bitwise_exact(synthetic_dir: Path, tmp_path: Path) -> None:
    """With dropout (a stream per rank, all saved) a 2-process run stopped at step 6 and
    resumed in 2 processes ends bitwise where the straight run ends (~90 s)."""
    from catsmt.config import save_config
    from catsmt.run.checkpoint import load_checkpoint

    from .conftest import tiny_config

    extra = ["weighting.method=cats", "weighting.update_every=[[0,3]]", "model.dropout=0.1"]
    for name, steps in (("straight", STEPS), ("half", RESUME_AT)):
        cfg = tiny_config(synthetic_dir, tmp_path / name, *extra, f"train.max_steps={steps}", "train.valid_every=6")
        save_config(cfg, tmp_path / f"{name}.yaml")
        torchrun(2, ["train", str(tmp_path / f"{name}.yaml")], tmp_path / f"record-{name}")
    torchrun(2, ["train", "--resume", str(tmp_path / "half"), f"train.max_steps={STEPS}"], tmp_path / "record-resumed")
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "half" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == STEPS
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert torch.equal(a["weighting"]["alpha"], b["weighting"]["alpha"])
    assert a["sampler"] == b["sampler"]


if __name__ == "__main__":
    sys.exit(_harness_main(sys.argv[1:]))
