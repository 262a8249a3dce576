# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test bench-deps clean

install: $(STAMP)

# Re-installs only when the package's dependencies change; a second `make install` is a no-op.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	$(VENV)/bin/handpose demo

test: install
	$(PY) -m pytest -q

# MediaPipe, the peer the benchmarks compare against: a dev-only extra. Installed without its declared
# dependencies because it pins opencv-contrib-python (which would clash with opencv-python-headless)
# and jax, which the hand solution never imports.
bench-deps: install
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install -q -c constraints.txt --no-deps mediapipe==0.10.14
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install -q -c constraints.txt absl-py attrs flatbuffers 'protobuf>=4.25.3,<5' sounddevice

clean:
	rm -rf $(VENV) build *.egg-info
