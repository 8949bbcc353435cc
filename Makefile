# vocbench — one environment (.venv), two commands for a fresh machine: `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SHARED  ?= $(abspath ../shared)
VOC     := $(SHARED)/voc/VOCdevkit

.PHONY: all setup native demo test test-nojit lint typecheck bench reports clean

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[models,dev]'
	touch $(STAMP)

## set up .venv with everything (library, reference models, test and benchmark peers) and build the native kernels
setup: $(STAMP) native

## the COCO path's kernels compiled ahead of time (vocbench/_native; `vocbench eval --metric coco` then starts
## without Numba). Re-runs whenever a kernel source changed (the builder hashes them; ~0.3 s when fresh, ~50 s CPU
## cold). Also byte-compiles the package: an editable install writes no .pyc, and where PYTHONDONTWRITEBYTECODE is
## set nothing ever does, so every command would compile vocbench's sources again (~80 ms of each start-up here)
native: $(STAMP)
	$(BIN)/python -m vocbench._native build
	$(BIN)/python -m compileall -q vocbench

## the main job on the built-in synthetic data (plus real VOC when ../shared/voc exists): writes demo_out/index.html
demo: $(STAMP) native
	$(BIN)/vocbench demo demo_out

## the test suite (benchmarks excluded)
test: $(STAMP) native
	$(BIN)/python -m pytest -q

## lint (ruff; config in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check .

## type check (mypy on vocbench/; config in pyproject.toml)
typecheck: $(STAMP)
	$(BIN)/mypy vocbench

## every Numba kernel family once more as plain Python (the twins must agree without the JIT too): boxes, eval,
## COCO, TIDE/diagnose, bootstrap/compare, XML scanner, anchors, NMS; real-data tests are left out (minutes each)
NOJIT_TESTS := tests/test_boxes.py tests/test_eval.py tests/test_eval_engines.py tests/test_coco.py \
	tests/test_diagnose.py tests/test_compare.py tests/test_voc_scan.py tests/test_anchors.py tests/test_nms.py
## three large random twins (2-3 minutes as plain Python) stay JIT-only: smaller twins cover their kernels here
NOJIT_SKIP := --deselect tests/test_diagnose.py::test_twin_on_random_data \
	--deselect tests/test_anchors.py::test_curve_is_monotone_and_beats_euclidean \
	--deselect tests/test_boxes.py::test_continuous_iou_and_giou_equal_torchvision
test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -q -m "not slow and not real_data" $(NOJIT_SKIP) $(NOJIT_TESTS)

## speed benchmarks (pytest-benchmark suites and the ratio table)
bench: $(STAMP) native
	$(BIN)/python -m pytest benchmarks/ --benchmark-only
	$(BIN)/vocbench bench all

## regenerate the committed example reports from the real VOC annotations in $(SHARED)
reports: $(STAMP) native
	$(BIN)/vocbench stats $(VOC) --set 2007:train --set 2012:train --compare 2007:val,2012:val --compare 2007:test --no-anchors --html reports/voc0712_stats.html --json /dev/null
	$(BIN)/vocbench stats $(VOC) --set 2007:trainval --set 2012:trainval --compare 2007:test --html reports/voc0712_dataset.html --json /dev/null
	$(BIN)/vocbench eval --gt $(VOC) --set 2007:test --dets $(SHARED)/voc/detections/yolov2-voc07test --metric voc07 --metric voc12 --metric coco --iou 0.5 --iou 0.75 --html reports/yolov2_voc07test_eval.html --about "$$($(BIN)/python -c 'from vocbench.demo import ABOUT_YOLOV2; print(ABOUT_YOLOV2)')" --json /dev/null
	$(BIN)/vocbench compare --gt $(VOC) --set 2007:test --dets yolov2=$(SHARED)/voc/detections/yolov2-voc07test --dets yolov3=$(SHARED)/voc/detections/yolov3-voc07test --html reports/yolov2_vs_yolov3_voc07test.html --about "$$($(BIN)/python -c 'from vocbench.demo import ABOUT_YOLOV2, ABOUT_YOLOV3; print(ABOUT_YOLOV2, ABOUT_YOLOV3)')" --json /dev/null
	$(BIN)/vocbench audit --gt $(VOC) --set 2007:test --dets yolov2=$(SHARED)/voc/detections/yolov2-voc07test --dets yolov3=$(SHARED)/voc/detections/yolov3-voc07test --html reports/voc07test_audit.html --json /dev/null
	$(BIN)/vocbench bench all --html reports/benchmarks.html --json /dev/null

clean:
	rm -rf demo_out .pytest_cache .benchmarks
