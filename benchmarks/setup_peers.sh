#!/usr/bin/env bash
# Create the peer virtual environments used by benchmarks/bench_peers.py.
#
#   .venv-peers/dlib       dlib-bin (prebuilt dlib) + face-recognition-models (ships
#                          shape_predictor_68_face_landmarks.dat inside the wheel)
#   .venv-peers/mediapipe  mediapipe==0.10.21 (the last release that bundles its face
#                          detection / face mesh models; pins numpy<2, hence its own venv)
#
# Everything comes from PyPI through pip; nothing is downloaded from a model hub and the
# peers never become dependencies of lponet_tf. Idempotent: an existing, working venv is
# kept. Usage:  bash benchmarks/setup_peers.sh [dlib|mediapipe ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD/.venv-peers"
PY="${PEERS_PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
mkdir -p "$ROOT"

make_venv() {  # name, import check, pip args...
  local name=$1 check=$2; shift 2
  local venv="$ROOT/$name"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "[setup_peers] $name: ready ($venv)"
    return
  fi
  echo "[setup_peers] $name: creating $venv with $("$PY" --version)"
  "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "$@"
  "$venv/bin/python" -c "$check"
  echo "[setup_peers] $name: ok"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(dlib mediapipe)
for t in "${targets[@]}"; do
  case "$t" in
    dlib)
      make_venv dlib \
        "import dlib, face_recognition_models as m, os; assert os.path.isfile(m.pose_predictor_model_location())" \
        "dlib-bin==20.0.1" "face-recognition-models==0.3.0" "numpy" ;;
    mediapipe)
      make_venv mediapipe \
        "import mediapipe as mp, numpy; from mediapipe.tasks.python import vision; assert mp.__version__ == '0.10.21'" \
        "mediapipe==0.10.21" "numpy<2" ;;
    *) echo "unknown peer $t (dlib, mediapipe)" >&2; exit 2 ;;
  esac
done
