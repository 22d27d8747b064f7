#!/usr/bin/env bash
# The CPU study of issue 21 on a 2-core machine: configs/tatoeba-m2o-cpu.yaml (tatoeba-ted8
# many-to-one, tiny model, lr 0.005, 1,500 updates, one thread per run), two runs side by side.
#
#   bash benchmarks/cpu_study.sh sweep     # CATS's open choices, seed 1 (select on validation NLL)
#   CATS_SPEC=cats+... bash benchmarks/cpu_study.sh main    # temperatures and CATS, 3 seeds
#   bash benchmarks/cpu_study.sh others    # GradNorm, MultiDDS, PCGrad, GradVac, MGDA, seed 1
#   CATS_SPEC=... bash benchmarks/cpu_study.sh report       # one report over every finished run
#   bash benchmarks/cpu_study.sh run "t1 4" "cats 4"        # any list of "METHOD SEED"
#   OVERRIDES="train.lr=0.005 train.max_steps=1750" bash benchmarks/cpu_study.sh run "t1 1"
#                                          # config overrides for every call (a probe's setting)
#
# Every (method, seed) is one `catsmt compare` call into the same folder ($OUT, default
# study/m2o), so finished runs are reused by the later calls and by the report. Test scores
# use beam 5, length penalty 1 (the paper's decoding; BEAM=1 for greedy) on every test
# sentence; a report with another BEAM re-decodes the runs' best checkpoints, nothing is
# retrained. About 9-10 minutes per pair of runs, and 20-60 s per run to decode.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-study/m2o}"
CONFIG="${CONFIG:-configs/tatoeba-m2o-cpu.yaml}"
JOBS="${JOBS:-2}"
BEAM="${BEAM:-5}"
CATS_SPEC="${CATS_SPEC:-cats+loss_term=ascent+temperature=2}"  # the choice on validation NLL at lr 0.005 (m2o)
SWEEP="${SWEEP:-cats cats+alpha_lr=0.2 cats+loss_term=ascent cats+loss_term=ascent+temperature=5}"
CATSMT="${CATSMT:-catsmt}"
OVERRIDES="${OVERRIDES:-}"  # key=value config overrides, space-separated, passed to every call

one() {  # one() METHOD SEED: train (or reuse) and evaluate one run
  "$CATSMT" compare "$CONFIG" $OVERRIDES train.progress=false --methods "$1" --seeds "$2" --beam "$BEAM" --out "$OUT" > /dev/null 2>> "$OUT/study.log" \
    && echo "$(date -u +%H:%M:%S) done $1 seed $2" | tee -a "$OUT/study.log"
}
export -f one
export CONFIG OUT CATSMT BEAM OVERRIDES
mkdir -p "$OUT"

queue() { printf '%s\n' "$@" | xargs -P "$JOBS" -L 1 bash -c 'one $0 $1'; }

case "${1:-}" in
  sweep)  queue $(for m in $SWEEP; do echo "$m 1"; done) ;;
  main)   queue "t1 1" "tinf 1" "t5 1" "t1 2" "tinf 2" "t1 3" "tinf 3" "t5 2" "t5 3" "$CATS_SPEC 2" "$CATS_SPEC 3" ;;
  others) queue "gradnorm 1" "multidds 1" "pcgrad 1" "gradvac 1" "mgda 1" ;;
  run)    shift; queue "$@" ;;  # run "METHOD SEED" ...: any list, two at a time
  report)
    methods="t1,t5,tinf,${CATS_SPEC},gradnorm,multidds,pcgrad,gradvac,mgda${EXTRA_METHODS:+,$EXTRA_METHODS}"
    "$CATSMT" compare "$CONFIG" $OVERRIDES --methods "$methods" --seeds 1,2,3 --beam "$BEAM" --jobs "$JOBS" --report-only --out "$OUT" ;;
  *) echo "usage: $0 sweep|main|others|report|run" >&2; exit 2 ;;
esac
