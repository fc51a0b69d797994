#!/usr/bin/env bash
# Makes sure a Python 3.11+ with venv and pip is there; on Debian installs it with apt-get.
# Why: a fresh Debian image may lack python3-venv, and `make` must work there unattended.
set -euo pipefail
PY=${PY:-python3}
if "$PY" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: installing python3, python3-venv and python3-pip with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  exit 0
fi
echo "bootstrap: need Python >= 3.11 with the venv module; install it and run make again" >&2
exit 1
