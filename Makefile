# Two commands do all set-up on a fresh machine:
#   make demo   # creates .venv, installs torch + deps, builds the extension, runs `sympo-train --demo`
#   make test   # same set-up (reused), then the whole test suite
# Other targets: make lint (ruff + clang-format checks, as CI runs them), make format,
# make build, make bench, make clean.
#
# Variables: PYTHON (interpreter for the venv), VENV, TORCH_SPEC (the torch to
# install; the CUDA 13.0 build by default, e.g. TORCH_SPEC=torch==2.13.0 for a
# CPU-only wheel), SYMPO_CUDA (AUTO/ON/OFF: build the CUDA kernels).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.14.1
SYMPO_CUDA ?= AUTO
CUDA_HOME ?= $(if $(wildcard /usr/local/cuda/bin/nvcc),/usr/local/cuda,)
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.sympo-deps
BUILD_STAMP := $(VENV)/.sympo-build
# The editable install maps the package's modules when it is made: a new module
# or subpackage (a changed directory) needs a re-install, an edited one does not.
SOURCES := $(shell find csrc -type f) $(shell find sympo_ext -type d -not -name __pycache__) CMakeLists.txt pyproject.toml

export SYMPO_CUDA
export CUDA_HOME

.PHONY: demo test lint format build bench clean

demo: $(BUILD_STAMP)
	$(VENV)/bin/sympo-train --demo

test: $(BUILD_STAMP)
	$(PY) -m pytest -q

build: $(BUILD_STAMP)

# The formatters settle style (configs: [tool.ruff] in pyproject.toml, .clang-format); pinned
# versions so every machine formats the same way.
LINT_TOOLS := "ruff==0.17.6" "clang-format==23.1.5"
LINT_STAMP := $(VENV)/.sympo-lint
CXX_SOURCES = $(shell find csrc -name '*.h' -o -name '*.cpp' -o -name '*.cu')

$(LINT_STAMP): | $(PY)
	$(PY) -m pip install -q $(LINT_TOOLS)
	touch $@

lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/clang-format --dry-run --Werror $(CXX_SOURCES)

format: $(LINT_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	$(VENV)/bin/clang-format -i $(CXX_SOURCES)

bench: $(BUILD_STAMP)
	$(PY) benchmarks/bench_sym_loss.py --device cpu

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch and the build tools first: the extension is built against this torch.
# No build isolation here: the tools installed once are reused by every rebuild
# (plain `pip install .` with isolation works too, see README).
$(DEPS_STAMP): | $(PY)
	$(PY) -m pip install "$(TORCH_SPEC)" "scikit-build-core>=0.10" pybind11 ninja "cmake>=3.26" numpy
	touch $@

$(BUILD_STAMP): $(DEPS_STAMP) $(SOURCES)
	$(PY) -m pip install --no-build-isolation -e ".[all]"
	touch $@

clean:
	rm -rf build $(BUILD_STAMP)
