# Two commands: `make run` (install, migrate, demo data, serve) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run demo test lint bench-orders bench-allocation bench-eta bench-promises bench-notifications bench-dashboard bench-api-lists bench-import clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed

install: $(VENV)/.installed

# Development mode, switched on explicitly: DEBUG, the public dev key, plain-HTTP cookies, the demo login, customer
# emails written to var/emails/ instead of the console. serve_demo is runserver on the first free port from PORT;
# once it listens it prints the URL (with that port), the staff login and a working API key as its last lines.
run: export DEBUG = 1
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py serve_demo $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench-orders: install
	$(BIN)/python bench/orders.py

bench-allocation: install
	$(BIN)/python bench/allocation.py

bench-eta: install
	$(BIN)/python bench/eta.py

# Promise quality: a seeded simulated year through the real services (docs/promises.md); prints the table.
bench-promises: install
	$(BIN)/python -u bench/promises.py

bench-notifications: install
	$(BIN)/python bench/notifications.py

bench-dashboard: install
	$(BIN)/python bench/dashboard.py

bench-api-lists: install
	$(BIN)/python bench/api_lists.py

bench-import: install
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache
