#!/usr/bin/env bash
# One command for the GPU machine: install the carried wheels (TRL and what it needs beyond the
# machine's image, gymnasium for rlvr-envs), run the GRPO benchmark against TRL, then the GPU
# tests. Logs go to $OUT/ (or ./gpu-logs when $OUT is unset).
#   carry: .whl        run: bash benchmarks/gpu_run.sh
set -u
OUT=${OUT:-gpu-logs}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl >"$OUT/pip.log" 2>&1 || { cat "$OUT/pip.log"; exit 1; }
fi
export PYTHONPATH=/tmp/site:.${PYTHONPATH:+:$PYTHONPATH}
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, trl; print('torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__)" | tee -a "$OUT/gpu.txt"

# The benchmark: TRL and ours at 8 and 32 prompts x G=8, 32 + 256 tokens, bf16-mixed, 7 steps
# each (6 timed; about 5 minutes; runs that would start after 330 s are skipped). The whole
# script stays under 10 minutes.
timeout 420 python3 benchmarks/gpu_grpo.py --budget-s 330 --json "$OUT/gpu_grpo.json" "$@" \
    2>"$OUT/gpu_grpo.stderr" | tee "$OUT/gpu_grpo.txt"
echo "benchmark exit ${PIPESTATUS[0]}"
tail -5 "$OUT/gpu_grpo.stderr"

# GPU tests (bf16 training paths of the trainer, the agents' CUDA checks).
timeout 120 python3 -m pytest -q -m gpu -p no:cacheprovider tests/grpo tests/agents/test_gpu.py \
    2>&1 | tail -15 | tee "$OUT/pytest_gpu.txt"
