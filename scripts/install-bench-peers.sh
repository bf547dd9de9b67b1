#!/usr/bin/env bash
# Installs the tools `npm run bench` compares pixbatch with (Debian/Ubuntu).
# The benchmark runs whichever of them it finds, so this is optional.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# python3-pil: Pillow, what the original scripts converted with.
# python3-azure: the original worker's Blob Storage client (Blob benchmark).
# imagemagick, libvips-tools: `convert` and `vips` command-line peers.
# parallel: GNU parallel runs the CLI peers one job per core.
$SUDO apt-get install -y -qq --no-install-recommends \
  python3-pil python3-azure imagemagick libvips-tools parallel time
