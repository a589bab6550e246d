#!/usr/bin/env bash
# Set up everything the tests need, then run them. This is what CI runs.
# A missing model pack FAILS here (LOCALVOX_REQUIRE_MODELS=1, see tests/conftest.py), naming
# the pip package; skip the model tests on purpose with: scripts/test.sh -m "not models".
# -ra lists every skip, xfail and failure with its reason after the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export HF_HUB_OFFLINE=1
export LOCALVOX_REQUIRE_MODELS=1
exec .venv/bin/python -m pytest -q -ra "$@"
