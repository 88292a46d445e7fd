#!/usr/bin/env bash
# Debian's chromium for the audit package's browser tests (playwright-core drives it; no browser
# is ever downloaded). Idempotent: does nothing when /usr/bin/chromium is there. Exits non-zero
# when it is missing and cannot be installed, so CI says so instead of skipping the tests.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: /usr/bin/chromium is missing and there is no apt-get to install it" >&2
  exit 1
fi
sudo_=""
if [ "$(id -u)" -ne 0 ]; then sudo_="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo_ apt-get update -qq
$sudo_ apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "ensure-chromium: chromium did not install" >&2; exit 1; }
/usr/bin/chromium --version
