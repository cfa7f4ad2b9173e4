# Instrument controls (issue 16; docs/controls.md): positive (situation -> its own misaligned action)
# and negative (same actions after deranged situations) arms + the unfiltered reference, then the
# controls report (detection on raw and calibrated measures, MDE of the primary contrast).
CONTROLS_SIZE  ?= tiny
CONTROLS_SEEDS ?= 0,1
CONTROLS_STUDY ?= controls_$(CONTROLS_SIZE)
CONTROLS_ARGS  ?=
CONTROLS_OUT   ?= outputs/$(CONTROLS_STUDY)
.PHONY: controls controls-report

controls: ## positive/negative instrument controls + unfiltered reference -> outputs/controls_tiny/controls.md (CONTROLS_SEEDS=0,1 CONTROLS_ARGS=...)
	@set -e; t0=$$(date +%s); \
	$(BIN)aptk-arm --multirun study=$(CONTROLS_STUDY) experiment=control_positive,control_negative,unfiltered \
	  seed=$(CONTROLS_SEEDS) size=$(CONTROLS_SIZE) threads=1 $(CONTROLS_ARGS) >/dev/null; \
	$(PY) -m aptk.analysis.controls --runs outputs/runs/$(CONTROLS_STUDY) --out $(CONTROLS_OUT); \
	echo "controls: wall $$(( $$(date +%s) - t0 )) s; report $(CONTROLS_OUT)/controls.md"

controls-report: ## the controls report from existing runs (CONTROLS_STUDY=controls_tiny)
	$(PY) -m aptk.analysis.controls --runs outputs/runs/$(CONTROLS_STUDY) --out $(CONTROLS_OUT)
