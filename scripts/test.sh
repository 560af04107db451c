#!/usr/bin/env bash
# The test command: installs what the suite needs, then lint, types and every test
# (slow integration tests included: real Tansu broker, real chDB, real promtool/amtool).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian tools the deploy checks run for real (validators of docker-compose.yml and the
# Prometheus / Alertmanager configuration; Prometheus evaluating the dashboards' PromQL;
# headless Chromium opening `xbmon report`'s page).
if ! command -v docker-compose >/dev/null || ! command -v promtool >/dev/null \
    || ! command -v amtool >/dev/null || ! command -v chromium >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        docker-compose prometheus prometheus-alertmanager chromium >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== pytest"; python3 -m pytest -p no:cacheprovider "$@"
