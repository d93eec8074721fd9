# Two commands set up a fresh machine (only Python 3.11 and the package registries needed):
#   make demo   create .venv if needed, install psyscreen from this checkout, screen the bundled sample county and
#               build its follow-up workspace with demo accounts
#   make test   the same set-up, the Debian packages the tests need (postgresql, chromium, chromium-driver:
#               scripts/system_deps.sh installs the missing ones, with sudo when not root), then the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT := out/demo

.PHONY: demo test venv system-deps sample bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

# demo: screen the sample county, then build the demo's follow-up workspace (out/demo/county.db: both sample
# waves, cases, a demo-only account per role, a few events) and print how to start it; safe to run again
demo: venv
	$(PY) -m psyscreen demo --out $(OUT) --workspace

# a real PostgreSQL server and headless Chromium for the workspace's tests; does nothing when they are installed
system-deps:
	bash scripts/system_deps.sh

test: venv system-deps
	$(PY) -m pytest -q

sample: venv
	$(PY) scripts/make_sample.py --out data/sample

bench: venv
	$(PY) benchmarks/bench_scoring.py
	$(PY) benchmarks/bench_screen.py
	$(PY) benchmarks/bench_archive.py
	$(PY) benchmarks/bench_efa_threads.py
	$(PY) benchmarks/bench_polychoric.py
	$(PY) benchmarks/bench_wlsmv.py
	$(PY) benchmarks/bench_irt.py
	$(PY) benchmarks/bench_workspace.py
	$(PY) benchmarks/bench_case_lists.py
	$(PY) benchmarks/bench_sync.py

clean:
	rm -rf $(VENV) out .pytest_cache
