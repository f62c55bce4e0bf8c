# Two jobs, each a single command on a fresh machine (see README):
#   make demo   set up .venv and check sample messages with the shipped rules and registry
#   make test   set up .venv and run lint, types and the tests
#   make serve  set up .venv and start the web app (zh-CN) with a demo lender on SQLite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo serve test lint typecheck bench eval clean

$(BIN)/collectguard: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,model,web,store,letters,audit,spark]'
	touch $@

setup: $(BIN)/collectguard

demo: setup
	$(BIN)/collectguard check "【招联金融】您的借款已逾期15天，再不还款我们将上门催收并通知你的家人和单位。"
	$(BIN)/collectguard check --jsonl examples/messages.jsonl

serve: setup
	$(BIN)/collectguard serve --demo

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

eval: setup
	$(BIN)/python ../shared/tools/eval_check.py ../shared/eval/dev.jsonl --cg $(BIN)/collectguard --show-misses

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
