#!/usr/bin/env bash
# Installs the system programs the test suite runs for real, when they are missing:
# chromium (the dashboard's browser tests, driven by Playwright) and mosquitto (the MQTT
# broker of the server tests). Why: Playwright's own browser download cannot work here,
# and `make test` must pass unattended on a fresh Debian machine. Installs only as root
# with apt-get; otherwise says what to install and goes on (the tests then say it too).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-packages: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  # The broker is for the tests only: they start their own on a free port.
  if [[ " ${missing[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
  exit 0
fi
echo "system-packages: missing ${missing[*]}; install them (e.g. sudo apt-get install -y ${missing[*]})" >&2
