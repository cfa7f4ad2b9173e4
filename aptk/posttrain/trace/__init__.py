"""TRACE realignment: triage preference data against a new policy, alignment impact score,
weighted DPO/NPO/KL (docs/trace.md)."""
