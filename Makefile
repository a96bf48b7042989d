# Entry points; each target runs the idempotent set-up first.
.PHONY: setup demo test lib header

setup:
	tools/setup.sh

demo: setup
	samples/01_rewrite_resnet18/run.sh

test: setup
	.venv/bin/python -m pytest -q tests

lib: setup

header:
	python3 tools/gen_op_header.py
