#!/usr/bin/env bash
# The benchmark suite on one GPU (written for an H100 80GB): the paper's TED model (6 layers,
# 512 hidden, 1024 FFN, 4 heads), a 32k vocabulary, 32k padded tokens per step (about 27k
# target tokens; the table's first line says how many), bf16 autocast, K = 4 and K = 8.
#
#   bash benchmarks/gpu_check.sh            # from anywhere; results go to $OUT
#
# Installs nothing: it runs catsmt from src/ with the machine's python3, which needs torch
# (CUDA), numpy, pyyaml, sentencepiece, sacrebleu, tqdm, matplotlib and tensorboard -- all
# in the GPU image this project is lent. It checks them first and stops with a message if one
# is missing.
#
# Writes to $OUT (default: benchmarks/results/gpu-<date>): gpu-k4.json, gpu-k8.json,
# gpu-k4-packed-fused.json, and
# gpu-check.log with nvidia-smi's view and both tables. Each bench has its own time limit,
# so the whole script ends within about 12 minutes even if something hangs; expected total on
# an H100 is 3-5 minutes (the K=8 run skips decoding, which does not depend on K).
# Copy the JSON files into benchmarks/results/ and the tables into benchmarks/README.md.
#
# To try the script itself without a GPU (small sizes, on the CPU):
#   REQUIRE_CUDA=0 EXTRA="--device cpu --preset tiny --vocab 500 --max-tokens 512 --repeats 1 \
#     --warmup 0 --decode-sentences 8 --precision fp32" OUT=/tmp/gpu-check bash benchmarks/gpu_check.sh
# (EXTRA is appended to every bench command; a later option wins.)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/benchmarks/results/gpu-$(date -u +%Y-%m-%d)}"
mkdir -p "$OUT"
LOG="$OUT/gpu-check.log"
PY="${PYTHON:-python3}"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export REQUIRE_CUDA="${REQUIRE_CUDA:-1}"
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"

{
  echo "# catsmt gpu_check.sh  $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || true
} | tee "$LOG"

"$PY" "$ROOT/benchmarks/gpu_env.py" 2>&1 | tee -a "$LOG" || { echo "gpu_check: the python3 here cannot run catsmt (see above)"; exit 1; }

COMMON=(--preset ted --vocab 32000 --max-tokens 32768 --precision bf16 --device cuda
        --repeats 10 --warmup 3 --steps 2)
status=0
timeout 330 "$PY" -m catsmt bench "${COMMON[@]}" --langs-per-batch 4 \
  --decode-sentences 1000 --decode-repeats 3 \
  ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} --out "$OUT/gpu-k4.json" 2>&1 | tee -a "$LOG" || status=1
timeout 200 "$PY" -m catsmt bench "${COMMON[@]}" --langs-per-batch 8 \
  --decode-sentences 0 ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} --out "$OUT/gpu-k8.json" 2>&1 | tee -a "$LOG" || status=1
# Packed batches (data.pack) and the fused loss (train.loss_chunk), K = 4, training rows only;
# its plain_logits row is the same packed step with the loss from the full logits.
timeout 150 "$PY" -m catsmt bench "${COMMON[@]}" --langs-per-batch 4 --pack-len 128 --loss-chunk 1024 \
  --repeats 6 --decode-sentences 0 ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} --out "$OUT/gpu-k4-packed-fused.json" \
  2>&1 | tee -a "$LOG" || status=1
echo "gpu_check: done (status $status); files in $OUT" | tee -a "$LOG"
exit $status
