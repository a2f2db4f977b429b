#!/usr/bin/env bash
# The main job, from a fresh machine: installs dependencies, builds the skinnet tool (Release), trains a
# small CNN on the built-in synthetic dermoscopy set for a few minutes, evaluates it on its test split,
# classifies two generated images and prints where the report and pictures are.
#
#   bash scripts/demo.sh            # everything goes to runs/demo/ (and build/demo/)
#   EPOCHS=2 bash scripts/demo.sh   # shorter
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/cuda/bin:$PATH"

# OpenMP's default wait policy spins idle threads between parallel regions; on a small or shared machine
# they steal the cores the data-loader threads need. Measured here (2 cores, simple_cnn, 64 px):
# 137 images/s with OMP_WAIT_POLICY=passive against 50 with active.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

EPOCHS="${EPOCHS:-6}"
RUN=runs/demo

bash scripts/install-deps.sh
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKINNET_BUILD_TESTS=OFF \
  -DSKINNET_BUILD_BENCH=OFF -DSKINNET_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/demo -j "$(nproc)" --target skinnet_cli
SKINNET=./build/demo/examples/skinnet

echo
echo "== 1/3 train: simple_cnn on 2,100 synthetic dermoscopy images (7 classes, 64 px), $EPOCHS epochs"
rm -rf "$RUN"
"$SKINNET" train --data synth --synth-per-class 300 --synth-size 64 --model simple_cnn \
  --epochs "$EPOCHS" --batch 32 --optimizer adam --lr 1e-3 --schedule cosine --warmup-epochs 0.5 \
  --augment hflip,vflip,rot90 --seed 1 --out "$RUN"

echo
echo "== 2/3 evaluate the best checkpoint on the run's test split"
"$SKINNET" evaluate --model "$RUN/best.safetensors" --data "$RUN"

echo
echo "== 3/3 predict two new synthetic images (not in the training set: another seed)"
"$SKINNET" synth --out "$RUN/new_images" --per-class 1 --image-size 64 --seed 99 >/dev/null
"$SKINNET" predict --model "$RUN/best.safetensors" "$RUN/new_images/mel/"*.png "$RUN/new_images/bcc/"*.png

echo
echo "Done. Training report: $RUN/report.md (pictures: $RUN/loss.png, $RUN/accuracy.png, $RUN/confusion_matrix.png)"
echo "      Evaluation report: $RUN/evaluate_demo/report.md; epoch log: $RUN/log.csv; model: $RUN/best.safetensors"
