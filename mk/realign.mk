# TRACE realignment comparison (issue 13; docs/trace.md). MODEL= takes any local HF causal LM;
# unset, the pretrained model is the tiny `unfiltered` demo arm, built (or reused) by the pipeline.
REALIGN_SIZE   ?= tiny
REALIGN_CONFIG ?= default
REALIGN_SEEDS  ?=
REALIGN_OUT    ?= outputs/realign
REALIGN_ARGS   ?=
REALIGN_RUN     = outputs/runs/realign_$(REALIGN_SIZE)
REALIGN_ARM    ?= size=$(REALIGN_SIZE) study=realign_$(REALIGN_SIZE) threads=1 wandb.enabled=false
.PHONY: realign

realign: ## TRACE vs naive DPO / DPO-Gold / NPO-all + ablations + oracle noise -> outputs/realign/report.md (MODEL= REALIGN_SEEDS=0,1)
	@set -e; t0=$$(date +%s); model="$(MODEL)"; \
	if [ -z "$$model" ]; then \
	  $(PY) -m aptk.pipeline.arm experiment=unfiltered $(REALIGN_ARM) >/dev/null; \
	  model=$$($(PY) -c "import json; print(json.load(open('$(REALIGN_RUN)/unfiltered/seed0/run.json'))['model_dir'])"); fi; \
	echo "realign: model=$$model"; \
	$(PY) -W ignore::FutureWarning -m aptk.analysis.realign --config $(REALIGN_CONFIG) model=$$model report_dir=$(REALIGN_OUT) \
	  $(if $(REALIGN_SEEDS),'seeds=[$(REALIGN_SEEDS)]') $(REALIGN_ARGS); \
	echo "realign: wall $$(( $$(date +%s) - t0 )) s; report $(REALIGN_OUT)/report.md"
