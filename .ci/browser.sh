#!/usr/bin/env bash
# Installs Debian's chromium for the report's browser test (tests/report/browser.test.ts)
# when it is absent. Idempotent; the test finds it at $CHROMIUM or /usr/bin/chromium.
# Never lets a driver library download a browser of its own.
set -euo pipefail

for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then
    echo "chromium: $candidate ($("$candidate" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null; then
  echo "chromium: not found and no apt-get here; the browser test will be skipped" >&2
  exit 0
fi

sudo=""
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "chromium: not found, and installing it needs root; the browser test will fail (install chromium, or set CHROMIUM)" >&2
    exit 0
  fi
fi
# Other jobs on the machine may use apt at the same time: take the shared lock.
lock() { if command -v flock >/dev/null; then flock /tmp/apt.lock "$@"; else "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
install() { lock $sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }
if ! install && ! { lock $sudo apt-get update && install; }; then
  # Do not stop CI here: the browser test reports the missing browser as a failure.
  echo "chromium: apt-get could not install it; the browser test will fail" >&2
  exit 0
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo 'installed')"
