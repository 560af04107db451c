#!/usr/bin/env bash
# Validates the server-mode deployment without a Docker engine, with the real tools:
#   docker-compose config   (Debian package docker-compose; `docker compose` v2 is used if present)
#   promtool check config   (Debian package prometheus)
#   amtool check-config     (Debian package prometheus-alertmanager)
# The required secrets get throwaway values when unset: this checks the files, it runs nothing.
# tests/deploy/test_compose.py runs the same checks (and more) in the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

export CLICKHOUSE_PASSWORD="${CLICKHOUSE_PASSWORD:-validate-only-1}"
export CLICKHOUSE_GRAFANA_PASSWORD="${CLICKHOUSE_GRAFANA_PASSWORD:-validate-only-2}"
export GRAFANA_ADMIN_PASSWORD="${GRAFANA_ADMIN_PASSWORD:-validate-only-3}"

missing=()
if command -v docker-compose > /dev/null; then
    compose=(docker-compose)
elif docker compose version > /dev/null 2>&1; then
    compose=(docker compose)
else
    missing+=("docker-compose (apt-get install docker-compose)")
fi
command -v promtool > /dev/null || missing+=("promtool (apt-get install prometheus)")
command -v amtool > /dev/null || missing+=("amtool (apt-get install prometheus-alertmanager)")
if ((${#missing[@]})); then
    printf 'missing: %s\n' "${missing[@]}" >&2
    exit 2
fi

echo "== ${compose[*]} config"
"${compose[@]}" -f docker-compose.yml config -q
echo "docker-compose.yml is valid"

echo "== promtool check config"
promtool check config deploy/prometheus/prometheus.yml

echo "== amtool check-config"
amtool check-config deploy/alertmanager/alertmanager.yml
