#!/usr/bin/env bash
# Set up everything the tests need, then run them. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
