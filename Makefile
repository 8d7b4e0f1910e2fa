# kmsrotate.aws developer entry points. `make test` and `make demo` need only
# Python 3.11+ on the machine: everything else is installed into .venv from
# this repository's pinned requirements.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
BUILD := $(CURDIR)/.build
# Ansible finds the collection here: a link to this checkout.
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/kmsrotate/aws
# ansible-test needs a real ansible_collections/<ns>/<name> tree: a copy, with
# its own git index (inside this checkout it would ask our git, which ignores
# build/, and skip every file).
SANITY_BUILD := $(CURDIR)/build/sanity
SANITY_ROOT := $(SANITY_BUILD)/ansible_collections/kmsrotate/aws
GET_PIP_CACHE := $(HOME)/.ansible/test/cache/get_pip_24_2.py
# The oldest ansible-core meta/runtime.yml claims: the role's boolean tests run on it too.
OLDEST_CORE := ansible-core==2.17.14
OLDEST_VENV := $(CURDIR)/.venv-oldest-core
export KMSROTATE_OLDEST_CORE_BIN := $(OLDEST_VENV)/bin
# The sops client (PyPI sops 1.18, the Python implementation) pins
# ruamel.yaml<0.18, which ansible-lint cannot share: it has its own virtualenv.
SOPS_VENV := $(CURDIR)/.venv-sops
export KMSROTATE_SOPS_BIN := $(SOPS_VENV)/bin/sops
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PYTHONDONTWRITEBYTECODE := 1
PYTEST := $(BIN)/python -m pytest
PYTEST_ARGS ?=
# Test processes (pytest-xdist): each has its own local endpoint, and work is
# stolen between them so one long file does not hold the run. `make test
# PYTEST_WORKERS=0` runs everything in one process.
PYTEST_WORKERS ?= auto
PARALLEL := -n $(PYTEST_WORKERS) --dist worksteal

.PHONY: help test demo venv core-oldest sops-client browser collection sanity lint units integration fidelity proof-small proof bench changelog build clean

help:
	@echo "make test     sanity, lint, unit, fidelity and integration tests (what CI runs)"
	@echo "make demo     a rotation end to end on the built-in local AWS endpoint"
	@echo "make proof    the proof suite at its large size (chaos, faults, concurrent writer; not part of make test)"
	@echo "make bench    benchmarks (print figures; not part of make test)"

$(BIN)/.installed: requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(BIN)/.installed

# Modules run with the controller's Python (playbooks/rotate.yml), so it has the pinned boto3 too.
$(OLDEST_VENV)/.installed: Makefile requirements-dev.txt
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check '$(OLDEST_CORE)' \
		$$(grep -E '^(boto3|botocore)==' requirements-dev.txt)
	touch $@

core-oldest: $(OLDEST_VENV)/.installed

$(SOPS_VENV)/.installed: Makefile requirements-dev.txt
	$(PYTHON) -m venv $(SOPS_VENV)
	$(SOPS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'sops==1.18' 'ruamel.yaml<0.18' \
		$$(grep -E '^(boto3|botocore)==' requirements-dev.txt)
	touch $@

sops-client: $(SOPS_VENV)/.installed

# A real browser for the HTML report's test and the demo's screenshot:
# chromium from the Debian packages, installed when it is missing.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-driver; }

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

collection: venv $(COLLECTION_LINK)

$(GET_PIP_CACHE): tools/get_pip_bootstrap.py
	mkdir -p $(dir $@)
	cp $< $@

sanity: collection $(GET_PIP_CACHE)
	rm -rf $(SANITY_BUILD) && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard \
		| tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C $(SANITY_ROOT)
	cd $(SANITY_ROOT) && git init -q && git add -A
	# validate-modules resolves amazon.aws doc fragments from the same tree.
	mkdir -p $(SANITY_BUILD)/ansible_collections/amazon
	ln -sfn $$($(BIN)/python -c 'import ansible_collections.amazon.aws as c; print(list(c.__path__)[0])') \
		$(SANITY_BUILD)/ansible_collections/amazon/aws
	cd $(SANITY_ROOT) && PATH=$(BIN):$$PATH $(BIN)/ansible-test sanity --requirements --python 3.11 --color no

lint: collection
	PATH=$(BIN):$$PATH $(BIN)/ansible-lint --profile production --offline

units: collection
	$(PYTEST) tests/unit $(PARALLEL) $(PYTEST_ARGS)

fidelity: collection
	$(PYTEST) tests/fidelity $(PARALLEL) $(PYTEST_ARGS)

integration: collection core-oldest sops-client browser
	PATH=$(BIN):$$PATH $(PYTEST) tests/integration $(PARALLEL) $(PYTEST_ARGS)

# The proof suite (docs/proof.md): chaos, faults and a concurrent writer over
# a whole role run; small in make test, large in make proof.
proof-small: collection
	PATH=$(BIN):$$PATH $(PYTEST) tests/proof $(PARALLEL) $(PYTEST_ARGS)

proof: collection
	KMSROTATE_PROOF_SIZE=large PATH=$(BIN):$$PATH $(PYTEST) tests/proof $(PYTEST_ARGS)

test: sanity lint changelog units fidelity integration proof-small

demo: collection
	PATH=$(BIN):$$PATH $(BIN)/python tools/demo.py

bench: collection
	for script in tests/benchmarks/bench_*.py; do PATH=$(BIN):$$PATH $(BIN)/python $$script || exit 1; done

changelog: venv
	$(BIN)/antsibull-changelog lint

build: venv
	$(BIN)/ansible-galaxy collection build --force

clean:
	rm -rf $(BUILD) build $(VENV) $(OLDEST_VENV) $(SOPS_VENV) tests/output
