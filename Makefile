# The platform's entry points. `make run` and `make test` work on a fresh machine with only Python 3.11:
# they create .venv and install the pinned requirements themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv tools gen gen-check lint fmt bench clean

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

run: $(STAMP)
	$(BIN)/crm up

test: $(STAMP) tools
	$(BIN)/ruff check .
	$(BIN)/python scripts/gen_proto.py --check
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

venv: $(STAMP)

# Debian packages some tests use: Chromium (the browser tests, headless) and Prometheus (promtool and a real
# Prometheus for the alert rules). Installed once from Debian's registry; without Prometheus those tests
# are reported as skipped, with the reason.
tools:
	@command -v chromium >/dev/null && command -v promtool >/dev/null || { \
	  echo "installing Debian's chromium and prometheus for the tests"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium prometheus >/dev/null; }
	@command -v chromium >/dev/null || { echo "chromium could not be installed"; exit 1; }
	@command -v promtool >/dev/null || echo "prometheus could not be installed: the promtool tests will be skipped"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version" || { echo "Python 3.11 is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

gen: $(STAMP)
	$(BIN)/python scripts/gen_proto.py
	$(BIN)/python -m dashboards

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache
