#!/bin/sh
# Run lessons in full, in place: each lesson trains its recipe, exports its generators to
# trained_models/ (with their run.json and metrics.json) and stores its outputs, pictures and GIF.
# Usage: sh scripts/train_shipped_models.sh [01_gan 02_cgan 03_dcgan 04_cdcgan]
set -eu
JUPYTER=${JUPYTER:-.venv/bin/jupyter}
lessons=${*:-01_gan 02_cgan 03_dcgan 04_cdcgan}
for lesson in $lessons; do
    echo "running notebooks/$lesson.ipynb in full"
    GANUTILS_QUICK=0 $JUPYTER nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=-1 "notebooks/$lesson.ipynb"
done
