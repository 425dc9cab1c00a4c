#!/usr/bin/env bash
# Install Debian's chromium for the leaderboard's browser test (tests/test_leaderboard_browser.py).
# Playwright drives it through executable_path; `playwright install` is not used (it cannot download
# browsers on machines without internet access to its CDN). Idempotent; never fails the caller.
set -u
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "install_browser: chromium present ($(command -v chromium || command -v chromium-browser))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: no apt-get here; install chromium yourself (the browser test will be skipped)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install_browser: not root and no sudo; run: apt-get install -y chromium" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; then
  echo "install_browser: installed $(command -v chromium)"
else
  echo "install_browser: apt-get install chromium failed (the browser test will be skipped)" >&2
fi
exit 0
