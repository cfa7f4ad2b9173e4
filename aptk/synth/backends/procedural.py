"""Procedural backend: grammar-based documents (aptk.synth.genres), no model, a few ms per document.

python -m aptk.synth.generate backend=procedural
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aptk.core.hashing import canonical_json, sha256_bytes
from aptk.synth.backends import Backend, DocRequest, DocResult, assert_seeded
from aptk.synth.genres import TEMPLATE_VERSION, render


class ProceduralBackend(Backend):
    name = "procedural"
    model = ""
    template_version = TEMPLATE_VERSION
    token_unit = "words"  # no tokenizer: 'tokens' are whitespace words

    def __init__(self, cfg: Any = None) -> None:
        self.cfg = cfg

    def sampling(self) -> dict[str, Any]:
        return {"method": "grammar", "rng": "random.Random(seed)"}

    def generate(self, requests: Sequence[DocRequest]) -> list[DocResult]:
        out = []
        for r in requests:
            assert_seeded(r)
            text = render(r.scenario, r.genre, r.action, r.seed)
            spec = {
                "backend": self.name,
                "template_version": self.template_version,
                "scenario_id": r.scenario.scenario_id,
                "genre": r.genre,
                "action": r.action,
            }
            out.append(
                DocResult(
                    text=text,
                    prompt_hash=sha256_bytes(canonical_json(spec).encode())[:16],
                    tokens_in=0,
                    tokens_out=len(text.split()),
                )
            )
        return out
