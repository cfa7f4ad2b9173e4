"""One ablation arm end to end (the ordered stage list), W&B tracking and the Hydra entry point."""
