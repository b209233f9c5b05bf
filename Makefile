# Regulars — every target sets itself up: a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
POSTGRES_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
CATALOGUES := ui/catalogues

.PHONY: run test test-postgres lint format demo qr policy policy-check bench clean \
	i18n-extract i18n-update i18n-compile install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv with the app and the dev tools

run: $(STAMP)  ## run the product (sandbox at http://127.0.0.1:8080 when BOT_TOKEN is unset)
	$(BIN)/regulars run

test: $(STAMP)  ## the test suite (TEST_DATABASE_URL=postgresql+asyncpg://... runs it on PostgreSQL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)  ## the suite again on the local PostgreSQL
	TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and strict mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(STAMP)  ## a scripted story through the bot and the emulator
	$(BIN)/regulars demo

TABLES ?= 1-10
STORE  ?= 1
OUT    ?= qr
qr: $(STAMP)  ## printable table QR codes into $(OUT)/: make qr TABLES=1-30 [STORE=1 OUT=qr]
	$(BIN)/regulars qr tables --store $(STORE) --tables $(TABLES) --out $(OUT)

policy: $(STAMP)  ## print the policy in force (POLICY_FILE, else the frequency preset) as TOML
	$(BIN)/regulars policy show

policy-check: $(STAMP)  ## check a policy file: make policy-check FILE=my-policy.toml
	$(if $(FILE),,$(error give the file: make policy-check FILE=my-policy.toml))
	$(BIN)/regulars policy check $(FILE)

bench: $(STAMP)  ## benchmarks; figures go to bench/RESULTS.md by hand
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.lifecycle
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.simulate

i18n-extract: $(STAMP)  ## collect strings into ui/catalogues/messages.pot
	$(BIN)/pybabel extract -F babel.cfg -k _ -k __ -k lazy_gettext --no-location --sort-output \
		--project=Regulars --version=0.1 --msgid-bugs-address=dev@regulars.invalid \
		--copyright-holder=Regulars -o $(CATALOGUES)/messages.pot .

i18n-update: $(STAMP)  ## merge new strings into every catalogue
	$(BIN)/pybabel update -i $(CATALOGUES)/messages.pot -d $(CATALOGUES) --ignore-obsolete --no-fuzzy-matching

i18n-compile: $(STAMP)  ## check that every catalogue compiles (the app compiles them in memory)
	@tmp=$$(mktemp -d) && cp -r $(CATALOGUES)/. $$tmp && \
		$(BIN)/pybabel compile -d $$tmp --statistics && rm -rf $$tmp

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
