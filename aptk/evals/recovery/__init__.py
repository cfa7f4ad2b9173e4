"""Self-recovery evaluation: turn-by-turn safety trajectories of multi-turn adversarial dialogues,
scored by pluggable moderators (issue 15; definitions in docs/recovery.md and trajectory.py).

- dialogue.py: the JSONL dialogue format (OpenAI-style messages, optional per-turn labels)
- importers.py: HH-RLHF transcripts (chosen and rejected endings), generic messages JSONL
- rollout.py: scripted attacker rollouts (assets/attacker_scripts_v1.json) against a local HF model
- moderators/: lexicon, learned (MiniLM + logistic head), profanity (alt-profanity-check),
  labels, guard (local HF guard model adapter)
- trajectory.py: break / recovery / sustained recovery / re-breaks / Mann-Kendall per dialogue
- agreement.py: Cohen's and Fleiss' kappa
- stage.py: the `recovery` stage (score + aggregate + report); report.py: tables and plots

    make recovery            # HH-RLHF + the demo's post-trained arms -> outputs/recovery/
"""
