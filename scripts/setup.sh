#!/usr/bin/env bash
# Idempotent setup: system packages (when missing), .venv, Python dependencies.
# On Debian as root it installs what is missing; elsewhere it prints exactly what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages this repository runs for real: name -> a binary that proves it is installed.
declare -A DEB_PACKAGES=(
  [postgresql]="/usr/lib/postgresql/*/bin/initdb"
  [redis-server]="/usr/bin/redis-server"
  [prometheus]="/usr/bin/prometheus"
  [prometheus-alertmanager]="/usr/bin/prometheus-alertmanager"
  [python3-venv]="/usr/lib/python3*/ensurepip/__init__.py"
  [openssl]="/usr/bin/openssl"   # certificates of the control plane in tests/cluster
)

missing=()
for pkg in "${!DEB_PACKAGES[@]}"; do
  # shellcheck disable=SC2086  # the value is a glob on purpose
  if ! compgen -G ${DEB_PACKAGES[$pkg]} >/dev/null; then
    if [ "$pkg" = python3-venv ] && python3 -c 'import ensurepip' 2>/dev/null; then continue; fi
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ -r /etc/debian_version ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the packages' own services from starting: we start our own instances.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: install them with:  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[tools,dev]'
  touch "$stamp"
fi
# checkov (the chart's security scan, `make scan`) in a venv of its own in the tool cache: its
# dependency pins (packaging<24 among them) conflict with the project's set in .venv.
tools_cache=${OBSCTL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/payment-observability/tools}
checkov_venv="$tools_cache/checkov-3"
if [ ! -x "$checkov_venv/bin/checkov" ]; then
  echo "setup: installing checkov into $checkov_venv"
  mkdir -p "$tools_cache"
  "$PY" -m venv "$checkov_venv"
  "$checkov_venv/bin/python" -m pip install -q 'checkov>=3.2,<4'
fi
# The ecosystem's Go tools at the versions of tools/versions.yaml, built from Go modules into the
# user's cache (obsctl/tools.py); without Go it says what to install and fails if a tool is missing.
.venv/bin/python -m obsctl.tools build
echo "setup: ready"
