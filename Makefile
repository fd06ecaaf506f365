# The two commands the README promises:
#   make run   installs yunwang into .venv and runs the main job on embedded defaults
#   make test  installs every system package the tests need, then runs lint, types and tests
VENV ?= .venv
BIN := $(VENV)/bin
# Only the rooms that exist yet: mypy refuses a folder with no Python in it.
PACKAGES := $(foreach d,estate infra playbooks monitors security dr dashboards lab yunwang,$(if $(wildcard $(d)/*.py),$(d)))

.PHONY: install compile run test test-deps lint typecheck pytest clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# The sensor's per-frame modules compiled with mypyc into ~/.cache/yunwang
# (monitors/packets/compiled.py); quick when the build of these sources is
# there. Without a C compiler the sensor runs interpreted (CI=true: a failure).
compile: install
	$(BIN)/python -c 'import sys; from monitors.packets.compiled import main; sys.exit(main(["build"]))'

# The main job on embedded defaults: the example city against simulated
# devices, attacks replayed through the sensor, and the web view; Ctrl-C to stop.
run: install compile
	$(BIN)/yunwang validate examples/puyang.yaml
	$(BIN)/yunwang watch --web

test-deps: install
	bash ci/setup-test-deps.sh $(VENV)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python ci/import_layers.py

typecheck: install
	$(BIN)/mypy $(PACKAGES)

# The suite on TEST_WORKERS pytest-xdist processes: most of a lab test's
# time is waiting on namespaces, daemons and timers, which another test's
# work fills (tests/scheduling.py says what runs together).
# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
TEST_WORKERS ?= 2
pytest: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test: test-deps compile lint typecheck pytest

clean:
	rm -rf $(VENV) build *.egg-info
