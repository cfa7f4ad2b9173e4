# Self-recovery trajectories (issue 15; docs/recovery.md): real HH-RLHF dialogues, then rollouts of
# the demo's post-trained arms. Models per arm: the run record
# $(RECOVERY_RUNS)/<arm>_sft_dpo/seed0/run.json (field model_dir) when it exists, else the arm's
# entry in MODELS=arm=dir,arm=dir; with neither, the rollout half prints why and is skipped.
RECOVERY_RUNS ?= outputs/runs/demo
RECOVERY_OUT  ?= outputs/recovery
RECOVERY_ARGS ?=
MODELS        ?=
.PHONY: recovery

recovery: ## self-recovery: HH-RLHF dialogues + demo arms' rollouts -> outputs/recovery/{hh,rollouts}/report.md (MODELS=arm=dir,...)
	@set -e; t0=$$(date +%s); \
	$(PY) -m aptk.evals.recovery --config hh report_dir=$(RECOVERY_OUT)/hh $(RECOVERY_ARGS); \
	$(PY) -m aptk.evals.recovery --config rollouts --runs $(RECOVERY_RUNS) --models "$(MODELS)" \
	  report_dir=$(RECOVERY_OUT)/rollouts $(RECOVERY_ARGS); \
	echo "recovery: wall $$(( $$(date +%s) - t0 )) s; reports in $(RECOVERY_OUT)/hh and $(RECOVERY_OUT)/rollouts"
