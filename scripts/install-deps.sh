#!/usr/bin/env bash
# Installs every Debian package diffpath needs. Idempotent and non-interactive.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config git
  libeigen3-dev nlohmann-json3-dev libcli11-dev liblemon-dev libcairo2-dev
  doctest-dev libbenchmark-dev
  libimgui-dev libglfw3-dev libepoxy-dev libstb-dev libgl1-mesa-dri
  xvfb xauth
  python3 python3-numpy
  libavcodec-dev libavformat-dev libavfilter-dev libswscale-dev libavutil-dev
  pybind11-dev python3-pybind11 python3-dev python3-pytest python3-torch
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
