#!/usr/bin/env bash
# One script for a GPU machine with no network (e.g. the lent H100): builds the
# extension against the machine's torch, runs the CUDA tests and the GPU
# benchmarks, and writes logs and CSV/PNG results to $RESULTS (default
# ./gpu_out). When $OUT is set (the lent-GPU tool), everything is also packed
# into $OUT/gpu_results.tgz, with the short summary in $OUT/summary.txt.
#
#   bash benchmarks/gpu_check.sh [--quick]    # full sweeps take ~10 min; --quick ~2 min
#   BENCH_TIMEOUT=600 caps each benchmark (seconds)
#
# Competitor packages (liger-kernel, cut-cross-entropy) are used when they
# import; wheels placed in .whl/ are installed into a private target first.
set -uo pipefail
cd "$(dirname "$0")/.."
PACK_TO="${OUT:-}"
OUT="${RESULTS:-$PWD/gpu_out}"
mkdir -p "$OUT"
QUICK="${1:-}"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" SYMPO_CUDA=ON
export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"

if ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" -c "import torch; print('torch', torch.__version__, torch.version.cuda)"
} 2>&1 | tee "$OUT/machine.txt"

echo "== build" | tee "$OUT/build.log"
start=$(date +%s)
"$PY" -m pip install --no-build-isolation --no-deps --no-index -e . >>"$OUT/build.log" 2>&1 || {
  tail -50 "$OUT/build.log"; echo "BUILD FAILED"; exit 1; }
echo "build took $(( $(date +%s) - start )) s" | tee -a "$OUT/build.log"

echo "== CUDA tests"
"$PY" -m pytest tests -q -m cuda -p no:cacheprovider -rfE 2>&1 | tee "$OUT/cuda_tests.log" | tail -30

for bench in benchmarks/bench_sym_loss.py benchmarks/bench_logps.py benchmarks/bench_fused_linear.py; do
  [ -f "$bench" ] || continue
  name=$(basename "$bench" .py)
  echo "== $name"
  timeout "${BENCH_TIMEOUT:-600}" "$PY" "$bench" --device cuda --out "$OUT" $QUICK 2>&1 | tee "$OUT/$name.log" | tail -25
done
echo "== done; results in $OUT"
if [ -n "$PACK_TO" ]; then
  grep -hE "passed|failed|error" "$OUT/cuda_tests.log" | tail -3 > "$PACK_TO/summary.txt"
  tar czf "$PACK_TO/gpu_results.tgz" -C "$OUT" .
fi
