"""Corpora, the AI-discourse filter, the token-share mixer and the contamination gate."""
