#!/usr/bin/env bash
# The reference detectors' whole GPU job in one command (< 10 min on one H200 with 16 cores):
#   synthetic data (all cores) → train yolov2_tiny and ssdlite at once (full width, 416/300 px, AMP bf16,
#   channels-last, batch 64, model selection on 2007:val) → score the test split once (vocbench predict + eval,
#   torch and onnxruntime) → profile on the device (torch vs onnxruntime) → weights, model cards, logs in $OUT.
#
#   OUT=/path/to/out bash reference_models/gpu_run.sh
#
# Every knob is an environment variable (defaults are the GPU run); the CPU test runs it with tiny values:
#   VB_IMAGES (16000) VB_TEST_IMAGES (unseen-seed images, 400) VB_YOLO_SIZE (416) VB_SSD_SIZE (300)
#   VB_WIDTH (1.0) VB_EPOCHS (60) VB_BATCH (64) VB_TRAIN_MINUTES (7: each training stops at the epoch that ends
#   past it) VB_DEVICE (cuda) VB_WORKERS (data-loader workers, 6) VB_LOSS (modern) VB_PROFILE_REPEATS (20)
#   VB_SYNTH_SIZE (416) VB_SEED (0) VB_YOLO_STRIDES (32; 32,16 adds the stride-16 head) VB_YOLO_ANCHORS (5)
#   VB_SSD_STRIDE8 (0; 1 adds the stride-8 map)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for weights, model cards and logs}"
IMAGES=${VB_IMAGES:-16000}
TEST_IMAGES=${VB_TEST_IMAGES:-400}
YOLO_SIZE=${VB_YOLO_SIZE:-416}
SSD_SIZE=${VB_SSD_SIZE:-300}
WIDTH=${VB_WIDTH:-1.0}
EPOCHS=${VB_EPOCHS:-60}
BATCH=${VB_BATCH:-64}
MINUTES=${VB_TRAIN_MINUTES:-7}
DEVICE=${VB_DEVICE:-cuda}
WORKERS=${VB_WORKERS:-6}
LOSS=${VB_LOSS:-modern}
REPEATS=${VB_PROFILE_REPEATS:-20}
SYNTH_SIZE=${VB_SYNTH_SIZE:-416}
SEED=${VB_SEED:-0}
YOLO_STRIDES=${VB_YOLO_STRIDES:-32}
YOLO_ANCHORS=${VB_YOLO_ANCHORS:-5}
SSD_STRIDE8=${VB_SSD_STRIDE8:-0}
WORK=${VB_WORK:-/tmp/vocbench-gpu-run}
mkdir -p "$OUT/logs" "$WORK"
export PYTHONUNBUFFERED=1

# vocbench from this checkout: the installed command when there is one, else an offline editable install
if ! command -v vocbench >/dev/null 2>&1; then
  python3 -m pip install -q --no-deps --no-build-isolation --no-index --prefix "$WORK/prefix" -e . \
    >"$OUT/logs/install.log" 2>&1
  PYVER=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  export PATH="$WORK/prefix/bin:$PATH" PYTHONPATH="$PWD:$WORK/prefix/lib/python$PYVER/site-packages:${PYTHONPATH:-}"
fi
AMP=()
if [ "$DEVICE" = cuda ]; then AMP=(--amp); fi
t0=$(date +%s)
log() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$OUT/logs/gpu_run.log"; }

log "data: $IMAGES training images (seed $SEED) + $TEST_IMAGES unseen-seed test images, $(nproc) cores"
vocbench synth "$WORK/data" --images "$IMAGES" --seed "$SEED" --size "$SYNTH_SIZE" --workers "$(nproc)" \
  --json "$OUT/logs/synth.json"
vocbench synth "$WORK/unseen" --images "$TEST_IMAGES" --seed 90210 --size "$SYNTH_SIZE" --workers "$(nproc)" \
  --json "$OUT/logs/synth_unseen.json"

train() {  # model size [model flags...] → trains on 2007:train, selects on 2007:val
  local model=$1 size=$2
  shift 2
  vocbench train "$model" "$@" --data "$WORK/data/VOCdevkit" --set 2007:train --val-set 2007:val --val-images 500 \
    --width "$WIDTH" --input-size "$size" --epochs "$EPOCHS" --batch-size "$BATCH" --device "$DEVICE" "${AMP[@]}" \
    --loss "$LOSS" --workers "$WORKERS" --max-minutes "$MINUTES" --cache-dir "$WORK/cache" \
    --out "$WORK/runs/$model" >"$OUT/logs/train_$model.log" 2>&1
}
log "training yolo ($YOLO_SIZE px) and ssd ($SSD_SIZE px) at once on $DEVICE, ≤ $MINUTES min each"
SSD_FLAGS=()
if [ "$SSD_STRIDE8" = 1 ]; then SSD_FLAGS=(--stride8); fi
train yolo "$YOLO_SIZE" --strides "$YOLO_STRIDES" --anchors "$YOLO_ANCHORS" & pid_yolo=$!
train ssd "$SSD_SIZE" "${SSD_FLAGS[@]}" & pid_ssd=$!
wait "$pid_yolo" || { log "yolo training failed (see logs/train_yolo.log)"; exit 1; }
wait "$pid_ssd" || { log "ssd training failed (see logs/train_ssd.log)"; exit 1; }

for model in yolo ssd; do
  run="$WORK/runs/$model"
  for split in data:2007:test unseen:2007:test; do
    root=${split%%:*}; set_=${split#*:}
    for backend in torch onnx; do
      dev=$DEVICE
      tag="${model}_${root}_${backend}"
      log "predict + eval: $tag"
      vocbench predict "$run" --data "$WORK/$root/VOCdevkit" --set "$set_" --out "$WORK/dets/$tag" \
        --backend "$backend" --device "$dev" --json "$OUT/logs/predict_$tag.json" >>"$OUT/logs/predict.log" 2>&1
      vocbench eval --gt "$WORK/$root/VOCdevkit" --set "$set_" --dets "$WORK/dets/$tag" \
        --metric voc07 --metric voc12 --metric coco --json "$OUT/logs/eval_$tag.json"
    done
  done
  for backend in torch onnx; do
    log "profile: $model $backend on $DEVICE"
    vocbench profile "$run" --backend "$backend" --device "$DEVICE" --data "$WORK/unseen/VOCdevkit" \
      --set 2007:test --repeats "$REPEATS" --json "$OUT/logs/profile_${model}_$backend.json" \
      --html "$OUT/logs/profile_${model}_$backend.html" >>"$OUT/logs/profile.log" 2>&1
  done
done

log "packaging weights and model cards"
python3 - "$WORK" "$OUT" "$IMAGES" <<'EOF'
import json, sys
from pathlib import Path

from reference_models.train import package_weights

work, out, images = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
names = {"yolo": "yolov2_tiny", "ssd": "ssdlite"}
for short, name in names.items():
    dest = out / "weights" / name
    package_weights(work / "runs" / short, dest)
    cfg = json.loads((work / "runs" / short / "train_config.json").read_text())
    rows = []
    for root in ("data", "unseen"):
        for backend in ("torch", "onnx"):
            r = json.loads((out / "logs" / f"eval_{short}_{root}_{backend}.json").read_text())
            ap = (r["voc07"]["mAP"], r["voc12"]["mAP"], r["coco"]["AP"])
            rows.append(f"| {'test split of the training seed' if root == 'data' else 'unseen seed 90210'} "
                        f"| {backend} | " + " | ".join("n/a" if v is None else f"{v:.4f}" for v in ap) + " |")
    card = [f"# {name} — reference model card (GPU run)", "",
            f"Trained by `reference_models/gpu_run.sh`: data `vocbench synth OUT --images {images} --seed "
            f"{cfg['seed']}`; trained on `{', '.join(cfg['sets'])}`, model selection on "
            f"`{cfg['val_set']}` (held out from training; the test split is scored once, at the end).", "",
            "| field | value |", "|---|---|",
            f"| width, input | {cfg['width']}, {cfg['input_size']} px |",
            f"| epochs trained | {sum(1 for _ in open(work / 'runs' / short / 'metrics.csv')) - 1} of "
            f"{cfg['epochs']} (stop after {cfg['max_minutes']} min) |",
            f"| loss preset | `{cfg['loss']}` |", f"| batch, lr | {cfg['batch_size']}, {cfg['lr']} |",
            f"| device, autocast | {cfg['device']}, {'bf16' if cfg['amp'] else 'fp32'} |", "",
            "| scored on | backend | VOC07 mAP | VOC12 mAP | COCO AP |", "|---|---|---|---|---|", *rows, ""]
    (dest / "MODEL_CARD.md").write_text("\n".join(card) + "\n")
    print(f"wrote {dest}")
EOF
log "done in $(($(date +%s) - t0)) s: $OUT/weights, $OUT/logs"
