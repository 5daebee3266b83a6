#!/bin/sh
# Train each of the four models for a few hundred steps on the GPU TensorFlow sees and print
# steps per second (training time from run.json: tracing and per-epoch checkpoints included).
# Usage: sh benchmarks/gpu_check.sh [STEPS] [--mixed-precision]
set -eu
PYTHON=${PYTHON:-python}
STEPS=${1:-300}
[ $# -gt 0 ] && shift
$PYTHON -c "import sys, tensorflow as tf; gpus = tf.config.list_physical_devices('GPU'); print('GPUs:', gpus); sys.exit(0 if gpus else 1)" \
    || { echo "gpu_check: TensorFlow sees no GPU here" >&2; exit 1; }
out=$(mktemp -d)
for model in gan cgan dcgan cdcgan; do
    $PYTHON -m ganutils train "$model" --steps "$STEPS" --quiet --out "$out/$model" "$@" > "$out/$model.log"
    $PYTHON -c "
import json, sys
run = json.load(open(sys.argv[1]))
steps, seconds = run['steps_this_session'], run['seconds_this_session']
print(f\"{run['config']['family']:>7}: {steps} steps in {seconds:.1f} s, {steps / seconds:.1f} steps/s on {run['device']}\")
" "$out/$model/run.json"
done
