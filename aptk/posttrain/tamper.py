"""Benign tampering: continued SFT on capability-only data (no refusals, nothing about AI
safety), to test whether a post-trained model's alignment survives ordinary fine-tuning.

    python -m aptk.posttrain.tamper --model outputs/sft/<key>/model [--out outputs] [epochs=3]

Same loop and outputs as `aptk.posttrain.sft` under stage name "tamper".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aptk.posttrain import sft


@dataclass
class TamperConfig(sft.SFTConfig):
    """Defaults: the built-in capability set (help only, disjoint from sft_v1)."""

    data: str = "builtin:capability_v1"
    epochs: int = 1


def run(cfg: TamperConfig, model_dir: str | Path, out_root: str | Path) -> Path:
    return sft.run(cfg, model_dir, out_root, stage="tamper")


if __name__ == "__main__":
    sft.main(cls=TamperConfig, stage="tamper")
