"""Scorers: log-likelihood engine (lm), prompt formats, cloze/letter and generate scorers."""
