#!/usr/bin/env bash
# Build the virtual environment the real Label Studio round-trip test runs against (issue 22, class 5):
# the PyPI `label-studio` server and `label-studio-sdk`, apart from fsabench's own environment (it pins
# its own Django stack). sentry-sdk 3 breaks its start-up ("Unknown option 'send_default_pii'").
#   scripts/label_studio_venv.sh [DIR]      (default ~/.cache/fsabench-tests/label-studio-venv; FSABENCH_LABEL_STUDIO_VENV for the test)
set -euo pipefail
DIR="${1:-${FSABENCH_LABEL_STUDIO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/fsabench-tests/label-studio-venv}}"
PY="${PYTHON:-python3}"
if [ ! -x "$DIR/bin/label-studio" ]; then
  "$PY" -m venv "$DIR"
  "$DIR/bin/pip" install -q --upgrade pip
  "$DIR/bin/pip" install -q "label-studio>=1.20" "label-studio-sdk>=2" "sentry-sdk<3"
fi
"$DIR/bin/python" -c "import label_studio, label_studio_sdk; print('label-studio', label_studio.__version__)"
