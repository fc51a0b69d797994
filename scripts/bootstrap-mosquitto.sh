#!/usr/bin/env bash
# Makes sure the mosquitto MQTT broker is installed (the server tests start one).
# Why: a fresh Debian image lacks it, and `make test` must work there unattended.
set -euo pipefail
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "bootstrap: installing mosquitto with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq mosquitto >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null; }
  exit 0
fi
echo "bootstrap: the server tests need mosquitto; install it (apt-get install -y mosquitto)" >&2
exit 1
