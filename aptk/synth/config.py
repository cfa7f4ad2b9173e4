"""Configuration of the synth stage (document generation), mapped one to one by conf/synth/*.yaml.

from aptk.synth.config import SynthConfig
cfg = aptk.core.config.build(SynthConfig, {"docs_per_scenario": 4}, prefix="synth")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aptk.core.config import check
from aptk.core.stage import runtime_field

STANCES = ("aligned", "misaligned", "ambient")
DEFAULT_GENRES = (
    "news_report",
    "research_paper",
    "lecture_transcript",
    "textbook_section",
    "incident_postmortem",
    "fiction",
    "forum_thread",
    "interview",
    "blog_post",
    "email_thread",
)


@dataclass
class SynthConfig:
    """Everything that determines the synthetic documents (see docs/design.md, stage `synth`)."""

    bank: str = "builtin:v1"  # builtin:NAME, a .jsonl file or a folder of them
    heldout_fraction: float = 0.5
    split_seed: str = "aptk-split-v1"
    backend: str = "procedural"  # procedural | transformers | vllm | registered name
    genres: list[str] = field(default_factory=lambda: list(DEFAULT_GENRES))
    stances: list[str] = field(default_factory=lambda: list(STANCES))
    docs_per_scenario: int = 12  # per stance per seeded scenario
    ambient_misaligned_fraction: float = 0.5
    seed: int = 0
    # execution: parts are fixed chunks of the plan, so output does not depend on num_shards
    docs_per_part: int = 2000
    # how the work is spread, not what is produced: runtime fields, kept out of the stage key
    num_shards: int = runtime_field(1)
    shard: int | None = runtime_field(None, doc="None: run every part (all shards), then finalise")
    show_progress: bool = runtime_field(True)
    # filters
    leakage_ngram: int = 8
    min_words: int = 100
    max_words: int = 900
    keep_unfinished: bool = False  # keep docs a model cut off at max_new_tokens
    dedup: bool = True
    near_dup_threshold: float = 0.8  # estimated Jaccard of word 5-gram shingles
    shingle_size: int = 5
    minhash_num_perm: int = 64
    stats_sample: int = 1000  # docs per (stance, genre) used for distinct-n
    compression: str = "zstd"  # zstd | snappy
    # model backends (ignored by procedural)
    model: str = ""  # HF model dir / hub id for transformers and vllm
    template: str = "paper-v1"  # prompt template version for model backends
    max_new_tokens: int = 700
    temperature: float = 0.9
    top_p: float = 0.95
    batch_size: int = 8
    dtype: str = "auto"
    device: str = "cpu"
    max_model_len: int = 4096
    gpu_memory_utilization: float = 0.85
    tensor_parallel_size: int = 1
    # cost accounting (USD per 1M tokens) for the manifest's estimate
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0

    def validate(self, prefix: str = "") -> None:
        from aptk.synth.genres import GENRES

        check(bool(self.bank.strip()), prefix, "bank", "must name a bank (builtin:v1 or a path)")
        check(
            0.0 <= self.heldout_fraction < 1.0,
            prefix,
            "heldout_fraction",
            f"must be in [0, 1), got {self.heldout_fraction}",
        )
        check(bool(self.backend), prefix, "backend", "must name a backend")
        check(len(self.genres) > 0, prefix, "genres", "needs at least one genre")
        for i, g in enumerate(self.genres):
            check(
                g in GENRES,
                prefix,
                f"genres.{i}",
                f"unknown genre {g!r} (have: {', '.join(GENRES)})",
            )
        check(len(set(self.genres)) == len(self.genres), prefix, "genres", "has duplicates")
        check(len(self.stances) > 0, prefix, "stances", "needs at least one stance")
        for i, s in enumerate(self.stances):
            check(
                s in STANCES,
                prefix,
                f"stances.{i}",
                f"unknown stance {s!r} (have: {', '.join(STANCES)})",
            )
        check(len(set(self.stances)) == len(self.stances), prefix, "stances", "has duplicates")
        check(self.docs_per_scenario >= 1, prefix, "docs_per_scenario", "must be >= 1")
        check(
            0.0 <= self.ambient_misaligned_fraction <= 1.0,
            prefix,
            "ambient_misaligned_fraction",
            f"must be in [0, 1], got {self.ambient_misaligned_fraction}",
        )
        check(self.seed >= 0, prefix, "seed", "must be >= 0")
        check(self.docs_per_part >= 1, prefix, "docs_per_part", "must be >= 1")
        check(self.num_shards >= 1, prefix, "num_shards", "must be >= 1")
        check(
            self.shard is None or 0 <= self.shard < self.num_shards,
            prefix,
            "shard",
            f"must be in [0, num_shards={self.num_shards}) or null, got {self.shard}",
        )
        check(self.leakage_ngram >= 3, prefix, "leakage_ngram", "must be >= 3")
        check(self.min_words >= 0, prefix, "min_words", "must be >= 0")
        check(
            self.max_words > self.min_words,
            prefix,
            "max_words",
            f"must be > min_words ({self.min_words}), got {self.max_words}",
        )
        check(
            0.0 < self.near_dup_threshold <= 1.0, prefix, "near_dup_threshold", "must be in (0, 1]"
        )
        check(self.shingle_size >= 1, prefix, "shingle_size", "must be >= 1")
        check(
            16 <= self.minhash_num_perm <= 512, prefix, "minhash_num_perm", "must be in [16, 512]"
        )
        check(self.stats_sample >= 1, prefix, "stats_sample", "must be >= 1")
        check(
            self.compression in ("zstd", "snappy"), prefix, "compression", "must be zstd or snappy"
        )
        check(self.max_new_tokens >= 1, prefix, "max_new_tokens", "must be >= 1")
        check(self.temperature >= 0.0, prefix, "temperature", "must be >= 0")
        check(0.0 < self.top_p <= 1.0, prefix, "top_p", "must be in (0, 1]")
        check(self.batch_size >= 1, prefix, "batch_size", "must be >= 1")
        check(
            0.0 < self.gpu_memory_utilization <= 1.0,
            prefix,
            "gpu_memory_utilization",
            "must be in (0, 1]",
        )
        check(self.tensor_parallel_size >= 1, prefix, "tensor_parallel_size", "must be >= 1")
        check(
            self.price_in_per_mtok >= 0 and self.price_out_per_mtok >= 0,
            prefix,
            "price_in_per_mtok",
            "prices must be >= 0",
        )
        if self.backend in ("transformers", "vllm"):
            check(
                bool(self.model),
                prefix,
                "model",
                f"backend {self.backend!r} needs a model path or id",
            )
