# `make check` runs what CI runs (.ci/run), in the current environment.
.PHONY: check tools upgrade-tools lint test mutations bench bench-hub bench-fleet perf screenshots

check: tools lint mutations test

tools:
	python -m tests.check_tools

upgrade-tools:
	python -m tests.check_tools --upgrade

lint:
	ruff check tui tests benchmarks
	ruff format --check tui tests benchmarks
	lint-imports
	mypy

test:
	python -m pytest -q -n 4

mutations:
	python tests/rule_mutations.py

bench:
	python -m benchmarks.bench

screenshots:
	python -m tests.screenshots

bench-hub:
	python -m benchmarks.hub_bench

perf:
	python -m benchmarks.perf --check

bench-fleet:
	python -m benchmarks.fleet
