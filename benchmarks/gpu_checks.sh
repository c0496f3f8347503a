#!/usr/bin/env bash
# The checks and figures that need a GPU, for a machine with CUDA and celcolor installed
# (`pip install ".[test,bench]"`), from the repository root:
#
#     bash benchmarks/gpu_checks.sh [OUT]        # OUT: default gpu-out/ (not committed)
#
# Copy what it writes to benchmarks/results/gpu/ with a note of the machine and code.
# Roughly 10 minutes on one H100 with 16 CPU cores (estimated from its parts, never run whole).
set -o pipefail
OUT=${1:-gpu-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
# CUDA-only tests: trainers on the device, fused attention, the engine on CUDA vs CPU.
python -m pytest -q -p no:cacheprovider tests/test_training_device.py tests/test_models.py \
    tests/test_engine_temporal.py 2>&1 | tee "$OUT/tests.txt" | tail -3
for args in "--size 1920x1080" "" "--temporal-long-side 640"; do
    # shellcheck disable=SC2086
    python benchmarks/bench_engine.py --only network-speed $args --frames 96 --repeat 3 \
        --results "$OUT/engine" | tail -6
done
python benchmarks/bench_temporal.py --no-real --long-side 640 --results "$OUT/temporal" \
    -o "$OUT/temporal-report" | grep -A9 "^## Headline"
