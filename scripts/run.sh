#!/usr/bin/env bash
# The main job on the embedded default: a local Kafka-protocol broker (Tansu), the stream
# worker, the chDB evidence store and a live synthetic load, with a live terminal view.
# Arguments go to `xbmon up` (e.g. --duration 60 --rate 3000); Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e .

exec xbmon up "$@"
