# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the suite).
# Each creates .venv in the repo root when it is missing and installs into it the exact versions
# of requirements/lock.txt (setup.py keeps the wider ranges a `pip install` user gets).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCK := requirements/lock.txt
STAMP := $(VENV)/.installed-$(shell cat setup.py $(LOCK) | md5sum | cut -c1-12)
JUNIT_JAR := /usr/share/java/junit-platform-console-standalone.jar
PYTEST_ARGS ?=

.PHONY: venv test test-java java-deps demo bench lock clean

$(STAMP): setup.py $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c $(LOCK) pip
	$(PY) -m pip install --quiet -c $(LOCK) -e ".[test,export,detect,jax]"
	$(PY) -m pip check
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

# The JVM tests need a JDK and JUnit 5's console launcher (Debian's junit5); installed here when
# missing and we are root, never from inside a test.
java-deps:
	@if [ ! -f $(JUNIT_JAR) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's junit5 for the JVM tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q junit5 >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q junit5 >/dev/null; }; \
	fi

# Two pytest-xdist workers (CI has 2 cores, and most tests keep about one busy). Each test
# module runs whole on one worker, long modules first (tests/conftest.py);
# `make test PYTEST_WORKERS=0` runs everything in one process.
PYTEST_WORKERS ?= 2
test: $(STAMP) java-deps
	$(PY) -m pytest -q -p no:cacheprovider --durations=20 -n $(PYTEST_WORKERS) \
		--dist loadfile --no-loadscope-reorder $(PYTEST_ARGS) tests

# Re-resolve requirements/lock.txt from requirements/top-level.txt on purpose (then run make test).
lock:
	PYTHON=$(PYTHON) scripts/refresh_lock.sh

# The JVM tests of android_demo/ alone (they also run in `make test`): one pytest test per JUnit case.
test-java: $(STAMP) java-deps
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/test_android_core.py

demo: $(STAMP)
	$(VENV)/bin/lponet predict lponet_tf/assets/astronaut.png --output out/demo --overwrite

# The README's export table on the bundled preset; DATA is a 300W-format folder (calibration/parity):
#   make bench DATA=/data/300w
bench: $(STAMP)
	@test -d "$(DATA)" || { echo "make bench: DATA=<a 300W-format folder> is required" >&2; exit 2; }
	$(PY) benchmarks/bench_export.py --preset lponet_lite --data "$(DATA)" \
		--formats tflite-fp32,tflite-fp16,tflite-dynamic,tflite-int8,tflite-int8-posepath,tflite-int8-posepath-floatout,tflite-int16x8,onnx \
		--runs 50 --out benchmarks/results/export_lponet_lite.md

clean:
	rm -rf $(VENV) out build *.egg-info
