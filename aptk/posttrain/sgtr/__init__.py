"""Self-recognition fine-tuning (SGTR) and emergent-misalignment induction (issue 14).

`data`: articles, sampled summaries, the examples of every mode; `stage`: the "sgtr" and "em"
stages. The protocol end to end and its report: `aptk.analysis.sgtr`; docs/sgtr.md.
"""
