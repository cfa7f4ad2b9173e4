# Conditional-tags arm (issue 16; docs/tags.md): stance tags on synthetic docs, <|ai|> on AI-filter-
# flagged web docs (trained with the demo's recipe, DEMO_TRAIN); eval untagged and with each stance
# tag after the prefix token; the tags report
# (rates per condition with CIs, paired tag - none differences, the tag-learning check).
# Per-paragraph tags (docs/tags.md): make tags TAGS_STUDY=tags_tiny_para TAGS_ARGS="arm.name=tags_para tags.granularity=paragraph"
TAGS_SIZE  ?= tiny
TAGS_SEEDS ?= 0,1,2
TAGS_STUDY ?= tags_$(TAGS_SIZE)
TAGS_ARGS  ?=
TAGS_DOCS  ?= 100
TAGS_OUT   ?= outputs/$(TAGS_STUDY)
# 2 one-thread jobs at once on the 2-core host: TAGS_LAUNCHER="hydra/launcher=parallel hydra.launcher.n_jobs=2"
TAGS_LAUNCHER ?= hydra/launcher=basic
.PHONY: tags tags-report

tags: ## conditional-tags arm + report -> outputs/tags_tiny/tags.md (TAGS_SEEDS=0,1,2 TAGS_ARGS=...)
	@set -e; t0=$$(date +%s); \
	$(BIN)aptk-arm --multirun study=$(TAGS_STUDY) experiment=tags seed=$(TAGS_SEEDS) size=$(TAGS_SIZE) \
	  threads=1 train=$(DEMO_TRAIN) $(TAGS_LAUNCHER) $(TAGS_ARGS) >/dev/null; \
	$(PY) -m aptk.analysis.tags --runs outputs/runs/$(TAGS_STUDY) --out $(TAGS_OUT) --docs $(TAGS_DOCS); \
	echo "tags: wall $$(( $$(date +%s) - t0 )) s; report $(TAGS_OUT)/tags.md"

tags-report: ## the tags report from existing runs (TAGS_STUDY=tags_tiny)
	$(PY) -m aptk.analysis.tags --runs outputs/runs/$(TAGS_STUDY) --out $(TAGS_OUT) --docs $(TAGS_DOCS)
