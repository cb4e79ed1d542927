#!/usr/bin/env bash
# Find or install a headless Chromium for the HTML-report checks (idempotent; prints one line).
# Debian's package is used: nothing is downloaded outside the package registry.
set -u
found() { command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null || true; }
if [ -n "${LENGTHWISE_CHROMIUM:-}" ] && [ -x "${LENGTHWISE_CHROMIUM}" ]; then exit 0; fi
if [ -n "$(found)" ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not found and no apt-get here; install Chromium and set LENGTHWISE_CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "chromium: not found and installing it needs root: run 'sudo apt-get install chromium' (or set LENGTHWISE_CHROMIUM)" >&2
    exit 1
  fi
fi
echo "chromium: installing Debian's chromium for the report checks (one time)..."
log=$(mktemp)
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
  echo "chromium: apt-get install chromium failed ($(tail -n 1 "$log")); install it by hand or set LENGTHWISE_CHROMIUM" >&2
  rm -f "$log"; exit 1
fi
rm -f "$log"
[ -n "$(found)" ] || { echo "chromium: installed, but no 'chromium' on PATH; set LENGTHWISE_CHROMIUM" >&2; exit 1; }
echo "chromium: $(found)"
