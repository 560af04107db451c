#!/usr/bin/env bash
# The test command: installs what the suite needs, then lint, types and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== pytest"; python3 -m pytest "$@"
