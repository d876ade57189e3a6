# The README's commands. Everything installs into .venv; torch comes first, pinned to its CPU build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODEL := models/policy-tagger
STAMP := $(VENV)/.installed
# Real paragraphs with adjudicated labels, measured (never trained or tuned on) where this checkout has them.
REAL_DEV := ../shared/realdev/real-dev.jsonl
EVALUATE_REAL = if [ -f $(REAL_DEV) ]; then $(BIN)/policy-tagger evaluate --model $(MODEL) --data $(REAL_DEV) --report reports/real-dev; fi

.PHONY: install demo test lint model evaluate serve bench bench-al bench-scale layers docker docker-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[train,test,lint,documents,annotate,ray]"
	touch $(STAMP)

install: $(STAMP)

$(MODEL)/policy_tagger.json: | $(STAMP)
	$(BIN)/policy-tagger train --out $(MODEL)

model: $(STAMP)
	$(BIN)/policy-tagger train --out $(MODEL)
	$(BIN)/policy-tagger evaluate --model $(MODEL) --data labels/data/test.jsonl --report reports/test
	$(EVALUATE_REAL)

demo: $(MODEL)/policy_tagger.json
	$(BIN)/policy-tagger label seeds/*.txt --out out/seeds.jsonl --table
	$(BIN)/policy-tagger report seeds/ --out out/report

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check cli service training labels bench tests
	$(BIN)/mypy cli service training

evaluate: $(MODEL)/policy_tagger.json
	$(BIN)/policy-tagger evaluate --model $(MODEL) --data labels/data/test.jsonl --report reports/test
	$(EVALUATE_REAL)

serve: $(MODEL)/policy_tagger.json
	$(BIN)/policy-tagger serve --model $(MODEL) --host 127.0.0.1 --port 8000

bench: $(MODEL)/policy_tagger.json
	$(BIN)/python bench/bench.py --model $(MODEL)

# Active learning, simulated with a stand-in model (see the script); embeds ~4,100 paragraphs once.
bench-al: $(STAMP)
	nice -n 10 $(BIN)/python bench/active_learning.py

# 10,000 and 200,000 rows through `label` (peak memory, paragraphs/s), and Ray beside the local engine.
bench-scale: $(MODEL)/policy_tagger.json
	nice -n 10 $(BIN)/python bench/scale.py --model $(MODEL)

layers: $(STAMP)
	$(BIN)/python bench/layers.py

docker:
	docker build -t policy-tagger .

docker-smoke:
	.ci/docker-smoke

clean:
	rm -rf $(VENV) models/base $(MODEL) reports out
