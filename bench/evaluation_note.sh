#!/usr/bin/env bash
# Reproduces the evaluation note: the metric table (real train reference, an untrained
# DCGAN, a trained run) and the DCGAN-paper SVM protocol at 10 and 100 labels per class.
#
#   bash bench/evaluation_note.sh [RUN_DIR] [OUT_DIR]      (from the repository root)
#
# RUN_DIR: a zoo.dcgan run (default runs/dcgan; the note used a 3-epoch run,
# python -m zoo.dcgan --epochs 3 --output_dir runs/dcgan_e3). Needs MNIST imported
# (python -m zoo.import_data) and scikit-learn. Writes JSON results into OUT_DIR.
set -euo pipefail
RUN=${1:-runs/dcgan}
OUT=${2:-evaluation_note}
PY=${PYTHON:-python}
mkdir -p "$OUT"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

# An untrained DCGAN of the zoo's default width (seeded), as a .keras file.
$PY -c "import keras, kgan; keras.utils.set_random_seed(0); \
kgan.DCGAN(generator_filters=32, discriminator_filters=32, seed=0).save('$OUT/untrained_dcgan32.keras')"

time $PY -m zoo.evaluate "$OUT/untrained_dcgan32.keras" "$RUN" --num_samples 10000 \
  --output "$OUT/evaluation.json" --overwrite
for n in 10 100; do
  time $PY -m zoo.svm --model "$RUN" --labels_per_class "$n" --output "$OUT/svm_$n.json" --overwrite
done
