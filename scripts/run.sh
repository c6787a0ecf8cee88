#!/usr/bin/env bash
# Installs dependencies, builds, and launches the app on its default experiment.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build="${DIFFPATH_BUILD_DIR:-$root/build}"
if [ -x "$build/app/gui/diffpath" ]; then
  exec "$build/app/gui/diffpath" "$@"
fi
out="$root/demo-samples.csv"
"$build/app/diffpath-cli" sample --score exact:25gaussians --schedule simple --eta 1 --n 3000 --out "$out"
echo "run: the GUI is not built yet; wrote 3000 samples of 25gaussians to $out"
