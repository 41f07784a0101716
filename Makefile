# The two commands of the README:
#   make demo   set up, serve the bundled sample archive locally, crawl it into SQLite, report
#   make test   set up, then ruff, mypy and every test
PYTHON ?= python3
VENV := .venv
PYWB_VENV := .venv-pywb
PIP_QUIET ?= -q

.PHONY: setup demo test lint typecheck pytest bench clean system-deps

setup: $(VENV)/.installed $(PYWB_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) --upgrade pip
	$(VENV)/bin/pip install $(PIP_QUIET) -e '.[dev]'
	touch $@

# pywb pins redis==2.10.6 and other old libraries: it is a server, not our library, so it gets
# its own virtual environment.
$(PYWB_VENV)/.installed:
	$(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/pip install $(PIP_QUIET) --upgrade pip
	$(PYWB_VENV)/bin/pip install $(PIP_QUIET) 'pywb==2.10.0'
	touch $@

system-deps:
	bash scripts/system-deps.sh

demo: setup
	$(VENV)/bin/python -m crawler.demo

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no test: that means the suite is broken, say so.
pytest: setup system-deps
	@$(VENV)/bin/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make: pytest collected no tests: the suite is broken" >&2; fi; \
	exit $$rc

test: lint typecheck pytest

bench: setup
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(PYWB_VENV) demo .pytest_cache .mypy_cache .ruff_cache *.egg-info
