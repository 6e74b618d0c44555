#!/usr/bin/env bash
# Installs Debian's chromium package, which the dashboard's browser test
# drives headless, when /usr/bin/chromium is missing. Idempotent: with the
# browser present it does nothing and exits 0, so CI can call it on every
# run. Needs root (CI and the developer machines run as root) and the
# Debian package mirror; it downloads no browser build of its own.
#
#   scripts/install-chromium.sh
#
# The test finds the browser at $QUANTUM_TEST_CHROMIUM, else
# /usr/bin/chromium, and skips with a message when there is none.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present) at /usr/bin/chromium"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-chromium: not root and no sudo; install Debian's chromium package by hand" >&2
    exit 1
  fi
  sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# Recommends would pull in desktop pieces a headless test does not need.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed) at /usr/bin/chromium"
