#!/usr/bin/env bash
# Re-resolves requirements/lock.txt on purpose: a scratch venv gets the package with its
# extras under only the top-level pins, and its `pip freeze` becomes the new lock.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --upgrade pip
"$tmp/venv/bin/python" -m pip install --quiet -c requirements/top-level.txt ".[test,export,detect]"
"$tmp/venv/bin/python" -m pip check
{
  echo "# Exact versions tested together (Python 3.11, x86_64). make installs with -c this file."
  echo "# setup.py keeps the ranges users get. Refresh on purpose: make lock (then run make test)."
  # --all keeps pip, setuptools and wheel: the wheel test builds with --no-build-isolation.
  "$tmp/venv/bin/python" -m pip freeze --all --exclude lponet-tf
} > requirements/lock.txt.new
mv requirements/lock.txt.new requirements/lock.txt
echo "requirements/lock.txt refreshed; run make test before committing it"
