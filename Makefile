# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the suite).
# Each creates .venv in the repo root when it is missing and installs the package into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.py | md5sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: venv test test-java demo bench clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,export,detect]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests

# The JVM tests of android_demo/ alone (they also run in `make test`); prints "N passed, N failed".
test-java: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/test_android_core.py

demo: $(STAMP)
	$(VENV)/bin/lponet predict lponet_tf/assets/astronaut.png --out out/demo

# The README's export table on the bundled preset (needs ../shared/data for calibration/parity).
bench: $(STAMP)
	$(PY) benchmarks/bench_export.py --preset lponet_lite --data ../shared/data/300w \
		--formats tflite-fp32,tflite-fp16,tflite-dynamic,tflite-int8,tflite-int8-posefloat,tflite-int16x8,onnx \
		--runs 50 --out benchmarks/results/export_lponet_lite.md

clean:
	rm -rf $(VENV) out build *.egg-info
