"""The generation plan: which documents exist, in a fixed order, split into fixed-size parts.

For each stance (config order), each seeded scenario (sorted by id) and k in
range(docs_per_scenario) there is one document. Its genre rotates through `cfg.genres` from a
per-(scenario, stance) offset, its seed is derive_seed(cfg.seed, "synth", scenario_id, stance, k),
and for stance 'ambient' exactly round(fraction * docs_per_scenario) of each scenario's docs take
the misaligned action. Parts are chunks of `docs_per_part` plan items, so the output does not
depend on how many shards run them. Items are computed from their index: memory stays flat.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from aptk.core.hashing import derive_seed
from aptk.synth.backends import DocRequest
from aptk.synth.config import SynthConfig
from aptk.synth.scenarios import Scenario


@dataclass(frozen=True)
class Task:
    stance: str
    part: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.stance}/part-{self.part:05d}"


class Plan:
    def __init__(self, cfg: SynthConfig, scenarios: list[Scenario]) -> None:
        self.cfg = cfg
        self.seeded = [
            s for s in sorted(scenarios, key=lambda s: s.scenario_id) if s.split == "seeded"
        ]
        if not self.seeded:
            raise ValueError(
                f"bank {cfg.bank}: no seeded scenarios (heldout_fraction="
                f"{cfg.heldout_fraction}, {len(scenarios)} scenarios)"
            )
        self.per_stance = len(self.seeded) * cfg.docs_per_scenario
        self._ambient: dict[str, frozenset[int]] = {}

    def tasks(self) -> list[Task]:
        """Every part of every stance, in output order."""
        out = []
        size = self.cfg.docs_per_part
        for stance in self.cfg.stances:
            for p in range(math.ceil(self.per_stance / size)):
                out.append(Task(stance, p, p * size, min(self.per_stance, (p + 1) * size)))
        return out

    def shard_tasks(self, shard: int | None, num_shards: int) -> list[Task]:
        return [t for i, t in enumerate(self.tasks()) if shard is None or i % num_shards == shard]

    def _ambient_misaligned(self, scenario_id: str) -> frozenset[int]:
        """The k's of a scenario's ambient docs that take the misaligned action (cached)."""
        if scenario_id not in self._ambient:
            n = self.cfg.docs_per_scenario
            ks = list(range(n))
            random.Random(derive_seed(self.cfg.seed, "synth-ambient", scenario_id)).shuffle(ks)
            self._ambient[scenario_id] = frozenset(
                ks[: round(self.cfg.ambient_misaligned_fraction * n)]
            )
        return self._ambient[scenario_id]

    def item(self, stance: str, i: int) -> DocRequest:
        sc = self.seeded[i // self.cfg.docs_per_scenario]
        k = i % self.cfg.docs_per_scenario
        g = self.cfg.genres
        rot = derive_seed(self.cfg.seed, "synth-genre", sc.scenario_id, stance) % len(g)
        if stance == "ambient":
            action = "misaligned" if k in self._ambient_misaligned(sc.scenario_id) else "aligned"
        else:
            action = stance
        seed = derive_seed(self.cfg.seed, "synth", sc.scenario_id, stance, k)
        return DocRequest(
            doc_id=f"syn-{stance}-{sc.scenario_id}-{k:03d}-{seed & 0xFFFFFFFF:08x}",
            scenario=sc,
            genre=g[(k + rot) % len(g)],
            stance=stance,
            action=action,
            k=k,
            seed=seed,
        )

    def requests(self, task: Task) -> list[DocRequest]:
        return [self.item(task.stance, i) for i in range(task.start, task.stop)]
