#!/bin/bash
# Exemplar ablation: each variant trained for the same number of steps on the same data
# and seed, then scored by `python benchmarks/bench_exemplar.py --ablation runs/ablation`.
#
#     benchmarks/train_ablation.sh [STEPS] [VARIANT ...]     (default: 600, all variants)
#
# Variants: full (the shipped recipe's model), no-attention (palette only, no
# correspondence), no-palette, gan-none (no adversarial term; the perceptual term is
# then off too: it is the discriminator's feature matching without VGG weights),
# lab (L1 in Lab instead of RGB), no-guide (without the fitted reference as a guide).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-600}
shift || true
variants=${*:-full no-attention no-palette gan-none lab no-guide}
python=${PYTHON:-python}
for v in $variants; do
  case $v in
    full) extra=() ;;
    no-attention) extra=(--no-attention) ;;
    no-palette) extra=(--no-palette) ;;
    gan-none) extra=(--gan none) ;;
    lab) extra=(--loss-space lab) ;;
    no-guide) extra=(--no-guide) ;;
    *) echo "unknown variant: $v" >&2; exit 2 ;;
  esac
  echo "== $v $(date +%T)"
  "$python" -m celcolor.cli train exemplar --out "runs/ablation/$v" --steps "$steps" \
    --minutes 60 --synthetic 800 --real 200 --eval-every 100 "${extra[@]}" \
    > "runs/ablation/$v.log" 2>&1 || { echo "$v failed: see runs/ablation/$v.log" >&2; exit 1; }
done
