#!/usr/bin/env bash
# The paper-size version of the CPU study (issue 21) on one GPU: the paper's TED model
# (6 layers, 512 hidden, 1024 FFN, 4 heads) on the full tatoeba-related many-to-one, bf16,
# T=1, T=5, T=inf and CATS on the same update budget, one seed each, then the report.
# Written to finish in <= 9 minutes on one H100/H200 including data preparation.
#
#   bash benchmarks/gpu_research.sh          # results go to $OUT
#
# Data: tatoeba-related is built from $CATSMT_MIRROR (or the network) unless $DATA already
# holds a build (`catsmt data get tatoeba-related --out data/tatoeba-related` here, then carry
# data/tatoeba-related to the GPU machine). Installs nothing: it runs catsmt from src/ with
# the machine's python3 (torch with CUDA, numpy, pyyaml, sentencepiece, sacrebleu, tqdm,
# matplotlib, tensorboard).
#
# Writes to $OUT (default: benchmarks/results/gpu-research-<date>): report.md, report.html,
# results.json, results.csv, figures/, the runs' metrics and configs (not their checkpoints),
# and gpu-research.log with nvidia-smi's view.
#
# Every size is an environment variable, so the script can be tried on the CPU with tiny
# settings (tests/test_gpu_research.py does this):
#   REQUIRE_CUDA=0 DEVICE=cpu PRECISION=fp32 PRESET=tiny VOCAB=300 MAX_TOKENS=512 MAX_STEPS=4 \
#     VALID_EVERY=2 EVAL_SENTENCES=4 OUT=/tmp/gpu-research bash benchmarks/gpu_research.sh
# ANALYSIS_EVERY=100 adds the paper's optimisation analysis (Section 4.1) to every run and
# writes its summary across the runs to $OUT/analysis/summary.md.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/benchmarks/results/gpu-research-$(date -u +%Y-%m-%d)}"
DATA="${DATA:-$ROOT/data/tatoeba-related}"
DEVICE="${DEVICE:-cuda}"
PRECISION="${PRECISION:-bf16}"
PRESET="${PRESET:-ted}"
VOCAB="${VOCAB:-8000}"
MAX_TOKENS="${MAX_TOKENS:-16384}"
MAX_STEPS="${MAX_STEPS:-1500}"
VALID_EVERY="${VALID_EVERY:-100}"
EVAL_SENTENCES="${EVAL_SENTENCES:-0}"
METHODS="${METHODS:-t1,t5,tinf,cats}"
ANALYSIS_EVERY="${ANALYSIS_EVERY:-0}"  # > 0: the paper's curvature/alignment analysis every this many updates (adds time; not yet timed on a GPU)
TIME_LIMIT="${TIME_LIMIT:-510}"  # seconds for training and evaluation together
PY="${PYTHON:-python3}"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export REQUIRE_CUDA="${REQUIRE_CUDA:-1}"
mkdir -p "$OUT"
LOG="$OUT/gpu-research.log"

{
  echo "# catsmt gpu_research.sh  $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
} | tee "$LOG"

"$PY" "$ROOT/benchmarks/gpu_env.py" 2>&1 | tee -a "$LOG" || { echo "gpu_research: the python3 here cannot run catsmt (see above)"; exit 1; }

start=$(date +%s)
if [ ! -f "$DATA/stats.json" ]; then
  "$PY" -m catsmt data get tatoeba-related --out "$DATA" 2>&1 | tail -n 3 | tee -a "$LOG" || exit 1
fi
echo "data ready in $(( $(date +%s) - start )) s" | tee -a "$LOG"

WORK="${WORK:-$OUT/work}"
timeout "$TIME_LIMIT" "$PY" -m catsmt compare configs/tatoeba-m2o-cpu.yaml \
  "data.dir=$DATA" "data.vocab_size=$VOCAB" "data.max_tokens=$MAX_TOKENS" \
  "model.preset=$PRESET" "train.device=$DEVICE" "train.precision=$PRECISION" "train.threads=0" \
  "train.max_steps=$MAX_STEPS" "train.valid_every=$VALID_EVERY" "train.warmup_steps=$(( MAX_STEPS / 5 + 1 ))" \
  "train.lr=0.0015" "train.progress=false" "train.analysis_every=$ANALYSIS_EVERY" "train.analysis_split=train" \
  --methods "$METHODS" --seeds 1 --beam 5 --device "$DEVICE" --max-sentences "$EVAL_SENTENCES" \
  --out "$WORK" 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}
if [ "$ANALYSIS_EVERY" -gt 0 ] && compgen -G "$WORK/runs/*/checkpoints" > /dev/null; then
  # λ_max, gradient alignment and ‖g_n‖² across the runs: summary.md and figures in $OUT/analysis
  runs=("$WORK"/runs/*/)
  timeout 300 "$PY" -m catsmt analyze "${runs[@]%/}" --split train --device "$DEVICE" --out "$OUT/analysis" \
    > /dev/null 2>> "$LOG" || echo "gpu_research: the analysis failed (see the log)" | tee -a "$LOG"
fi
# What comes back: the report and each run's metrics and config, not the checkpoints.
for f in report.md report.html results.json results.csv compare.json; do
  [ -f "$WORK/$f" ] && cp "$WORK/$f" "$OUT/"
done
[ -d "$WORK/figures" ] && cp -r "$WORK/figures" "$OUT/"
for run in "$WORK"/runs/*/; do
  [ -d "$run" ] || continue
  name=$(basename "$run"); mkdir -p "$OUT/runs/$name"
  cp "$run"/{config.yaml,metrics.jsonl,summary.json} "$OUT/runs/$name/" 2>/dev/null || true
  [ -d "$run/eval" ] && cp -r "$run/eval" "$OUT/runs/$name/"
done
[ "${KEEP_WORK:-0}" = "1" ] || rm -rf "$WORK"
echo "gpu_research: done in $(( $(date +%s) - start )) s (status $status); files in $OUT" | tee -a "$LOG"
exit "$status"
