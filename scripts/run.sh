#!/usr/bin/env bash
# The main job on the embedded default: synthesise a world and run the rule engine over it.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e .

data=${XBMON_DATA_DIR:-.data/demo}
xbmon synth "$data" --enterprises "${XBMON_ENTERPRISES:-200}" --days "${XBMON_DAYS:-7}" --seed "${XBMON_SEED:-1}"
xbmon replay "$data" --summary > "$data/findings.jsonl"
echo "findings written to $data/findings.jsonl"
