#!/usr/bin/env bash
# Creates (once) the Python environment the interop tests use: .venv at the repository root, built from
# Debian's /usr/bin/python3 with --system-site-packages so python3-torch / python3-numpy from apt stay
# visible, plus the few PyPI packages skinnet's tests need, each pinned (DESIGN.md §8).
#
# Idempotent: a venv that already has every pinned version is left alone (no network). Exits non-zero
# when the venv cannot be made (no python3-venv, no PyPI); tests that need it then report themselves
# skipped rather than passed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=/usr/bin/python3
venv=.venv
# PyPI pins. safetensors: the reference implementation of the file format our io/ reads and writes;
# packaging: imported by safetensors.torch (Debian's python3-torch does not pull it in).
pins=(
  "safetensors==0.7.0"
  "packaging==25.0"
)

if [[ ! -x "$python" ]]; then
  echo "python-venv: $python not found (Debian package python3)" >&2
  exit 1
fi

# A venv made by another interpreter (or half made) is rebuilt rather than trusted.
if [[ -x "$venv/bin/python" ]] && ! "$venv/bin/python" -c 'import sys; sys.exit(0)' 2>/dev/null; then
  echo "python-venv: $venv is broken; recreating it"
  rm -rf "$venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "python-venv: creating $venv from $python (--system-site-packages)"
  "$python" -m venv --system-site-packages "$venv"
fi

# Install only what is missing or at another version: no network when everything is already pinned.
missing=()
for pin in "${pins[@]}"; do
  name=${pin%%==*}
  want=${pin##*==}
  have=$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)
  [[ "$have" == "$want" ]] || missing+=("$pin")
done
if ((${#missing[@]})); then
  echo "python-venv: installing ${missing[*]}"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${missing[@]}"
else
  echo "python-venv: $venv has ${pins[*]}"
fi
