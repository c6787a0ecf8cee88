#!/usr/bin/env bash
# Trains the checkpoints shipped in assets/ with our own `train` command, at the paper's
# budget (3000 points, batch 512, Adam lr 1e-3, 16000 epochs = 96000 steps), seed 0.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cli="${DIFFPATH_CLI:-$root/build/app/diffpath-cli}"
for data in swissroll 25gaussians; do
  for schedule in simple cosine; do
    "$cli" train --data "$data" --schedule "$schedule" --epochs 16000 --batch 512 --lr 1e-3 \
      --n-data 3000 --seed 0 --out "$root/assets/$data-$schedule.safetensors" \
      --loss-csv "$root/assets/$data-$schedule.loss.csv" --loss-every 100 "$@"
  done
done
