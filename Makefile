# The two commands of the README:
#   make book   set up .venv (created when missing, reused when present), execute every
#               notebook with papermill on the default profile and build the book into _build/html
#   make test   set up .venv the same way and run the tests (on JOBS processes)
PYTHON ?= python3
VENV   ?= .venv
PROFILE ?= default
JOBS    ?= 2
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test bench setup lab kernel clean mutants

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	# the CPU build of torch; a bare range would pull a multi-GB CUDA build. pip would byte-compile
	# every installed file on one core (about a minute on a 2-core machine): compileall does it on
	# all cores instead (the .pyc files are needed even where PYTHONDONTWRITEBYTECODE is set)
	$(BIN)/python -m pip install --quiet --no-compile "torch==2.13.0"
	$(BIN)/python -m pip install --quiet --no-compile -e ".[book,test]"
	# (like pip, it skips files that this Python cannot compile, e.g. torch's Python 3.12-only test helper)
	$(BIN)/python -c "import compileall, sysconfig; compileall.compile_dir(sysconfig.get_path('purelib'), quiet=2, workers=0)"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/python -m pprlib book --profile $(PROFILE) --jobs $(JOBS)

# the test modules spread over JOBS processes (pytest-xdist), each module whole on one of them
# (its module-scoped fixtures built once); JOBS=1 runs them in this process
test: $(STAMP)
	$(BIN)/python -m pytest -q $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist loadfile)

# benchmarks (not tests): throughput, memory, scaling; BENCH_ARGS="--book --peer /path/to/recbole/python"
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# mutation testing of the core (a measurement, not part of test): quality/README.md
MUTANTS_LABEL ?= latest
mutants: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[quality]"
	$(BIN)/python quality/mutation.py run --label $(MUTANTS_LABEL) --jobs $(JOBS)

kernel: $(STAMP)
	$(BIN)/python -m ipykernel install --user --name pprlib --display-name "Python (pprlib)"

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[book,test,lab]"
	$(BIN)/jupyter lab book/

clean:
	rm -rf _build data/cache mutants
