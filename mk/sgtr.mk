# Self-recognition finetuning (SGTR) vs emergent misalignment (issue 14; docs/sgtr.md).
# MODEL=/OTHER= take any local HF causal LMs; unset, the base is the `unfiltered` demo arm and the
# other model the `filtered` arm, both built (or reused) by the aptk pipeline at SGTR_SIZE.
SGTR_SIZE   ?= tiny
SGTR_CONFIG ?= default
SGTR_SEEDS  ?=
SGTR_OUT    ?= outputs/sgtr
SGTR_ARGS   ?=
SGTR_RUN     = outputs/runs/sgtr_$(SGTR_SIZE)
# Only `tiny` is supported: the SGTR prompt (article + two summaries) needs ~200 tokens of a
# 2048-vocab tokenizer; `debug` (128-token context, 512 vocab) cannot hold it.
SGTR_ARM    ?= size=$(SGTR_SIZE) study=sgtr_$(SGTR_SIZE) threads=1 wandb.enabled=false
.PHONY: sgtr

sgtr: ## SGTR vs EM: base, EM, EM->{SGTR,controls}, {SGTR,pick_longer}->EM, safe SFT; MODEL= OTHER= SGTR_SEEDS=0,1
	@set -e; t0=$$(date +%s); model="$(MODEL)"; other="$(OTHER)"; \
	if [ -z "$$model" ]; then \
	  $(PY) -m aptk.pipeline.arm experiment=unfiltered $(SGTR_ARM) >/dev/null; \
	  model=$$($(PY) -c "import json; print(json.load(open('$(SGTR_RUN)/unfiltered/seed0/run.json'))['model_dir'])"); fi; \
	if [ -z "$$other" ]; then \
	  $(PY) -m aptk.pipeline.arm experiment=filtered $(SGTR_ARM) >/dev/null; \
	  other=$$($(PY) -c "import json; print(json.load(open('$(SGTR_RUN)/filtered/seed0/run.json'))['model_dir'])"); fi; \
	echo "sgtr: model=$$model other=$$other"; \
	$(PY) -m aptk.analysis.sgtr --config $(SGTR_CONFIG) model=$$model other=$$other report_dir=$(SGTR_OUT) \
	  $(if $(SGTR_SEEDS),'seeds=[$(SGTR_SEEDS)]') $(SGTR_ARGS); \
	echo "sgtr: wall $$(( $$(date +%s) - t0 )) s; report $(SGTR_OUT)/report.md"
