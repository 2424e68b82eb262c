#!/usr/bin/env bash
# Installs what the browser tests need: Debian's chromium and, from npm,
# the pinned playwright-core (package-lock.json).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
    sudo_if_needed=""
    [ "$(id -u)" -ne 0 ] && sudo_if_needed="sudo"
    $sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq chromium >/dev/null
fi
npm ci --no-audit --no-fund --silent
