"""The experiment config: one arm of one study at one seed, every component typed.

`ExperimentConfig`'s fields are the components' own config dataclasses (synth, corpus, filter,
tokenizer, mix, shards, model, train, eval, contamination, posttrain.{sft,dpo,tamper}), so the
Hydra YAML in aptk/conf maps onto them one to one and a wrong key or type fails at compose time
(`register_configs()` puts the schema in Hydra's ConfigStore as `aptk_schema`, which
conf/config.yaml lists first) and again in `load_config()` with the dotted key named.

    python -m aptk.pipeline.arm --cfg job experiment=aligned     # print the resolved config
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aptk.core.config import build, check
from aptk.core.errors import ConfigError
from aptk.core.paths import resource
from aptk.data.ai_filter import FilterConfig
from aptk.data.contamination import ContaminationConfig
from aptk.data.corpora import CorpusConfig
from aptk.data.mix import MixConfig
from aptk.data.tags import STANCES, TagConfig
from aptk.evals.run import EvalConfig
from aptk.posttrain.dpo import DPOConfig
from aptk.posttrain.sft import SFTConfig
from aptk.posttrain.tamper import TamperConfig
from aptk.synth.config import SynthConfig
from aptk.synth.controls import ControlConfig
from aptk.tokens.shards import ShardsConfig
from aptk.tokens.tokenizer import TokenizerConfig
from aptk.train.config import TrainConfig
from aptk.train.model import ModelConfig

BASES = ("web", "filtered", "web_tagged")  # web_tagged: AI-filter-flagged docs tagged <|ai|>
SYNTHETIC = ("aligned", "misaligned", "ambient")
CONTROLS = ("control_positive", "control_negative")  # aptk.synth.controls (docs/controls.md)
#: conditional-tags arm (aptk.data.tags, docs/tags.md): both stances, each tagged, half the share each
TAGGED = "tagged"
INSERTIONS = ("whole", "midtrain", "window")


@dataclass
class ArmConfig:
    """What one arm's model reads: a base (filtered or not) plus synthetic documents.

    insertion: `whole` spreads the synthetic share over the run; `midtrain` puts it in the last
    `1 - start` of the tokens; `window` in [start, end) of the token stream.
    """

    name: str = "unfiltered"
    base: str = "web"
    synthetic: str | None = None
    synthetic_share: float = 0.0
    insertion: str = "whole"
    start: float = 0.0
    end: float = 1.0

    def validate(self, prefix: str) -> None:
        check(self.base in BASES, prefix, "base", f"must be one of {BASES}, got '{self.base}'")
        check(
            self.synthetic is None or self.synthetic in (*SYNTHETIC, *CONTROLS, TAGGED),
            prefix,
            "synthetic",
            f"must be null or one of {(*SYNTHETIC, *CONTROLS, TAGGED)}, got '{self.synthetic}'",
        )
        check(
            0.0 <= self.synthetic_share < 1.0,
            prefix,
            "synthetic_share",
            f"must be in [0, 1), got {self.synthetic_share}",
        )
        check(
            self.synthetic is not None or self.synthetic_share == 0.0,
            prefix,
            "synthetic_share",
            "is set but arm.synthetic is null",
        )
        check(self.insertion in INSERTIONS, prefix, "insertion", f"must be one of {INSERTIONS}")
        check(
            0.0 <= self.start < self.end <= 1.0,
            prefix,
            "start",
            f"need 0 <= start < end <= 1, got start={self.start} end={self.end}",
        )


@dataclass
class WebConfig:
    """The 'web' base corpus: base prose plus ambient AI discourse at a token share."""

    ambient_share: float = 0.03
    total_tokens: int = 2_000_000  # keep below the base prose's size so nothing repeats
    seed: int = 0  # shared by every arm and seed of a study: the web corpus is one artifact

    def validate(self, prefix: str) -> None:
        check(0.0 <= self.ambient_share < 1.0, prefix, "ambient_share", "must be in [0, 1)")
        check(self.total_tokens > 0, prefix, "total_tokens", "must be > 0")


@dataclass
class WandbConfig:
    enabled: bool = False
    mode: str = "offline"
    project: str = "aptk"
    dir: str = "outputs/wandb"

    def validate(self, prefix: str) -> None:
        check(
            self.mode in ("offline", "online", "disabled"),
            prefix,
            "mode",
            "must be offline, online or disabled",
        )


POSTTRAIN_STAGES = ("sft", "dpo", "tamper")


@dataclass
class PostTrainSpec:
    """Post-training applied identically to every arm that lists stages (e.g. [sft, dpo])."""

    stages: list[str] = field(default_factory=list)
    sft: SFTConfig = field(default_factory=SFTConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    tamper: TamperConfig = field(default_factory=TamperConfig)

    def validate(self, prefix: str) -> None:
        for i, st in enumerate(self.stages):
            check(
                st in POSTTRAIN_STAGES,
                prefix,
                f"stages.{i}",
                f"unknown post-training stage '{st}' (have {POSTTRAIN_STAGES})",
            )


@dataclass
class ExperimentConfig:
    """The resolved experiment: one arm of one study at one seed."""

    study: str = "demo"
    seed: int = 0
    out_root: str = "outputs"
    #: torch threads for every stage of this job (0 = torch's default). Training stages put the
    #: effective CPU thread count in their key (aptk.train.common.thread_key): at `tiny` shapes
    #: 1 and 2 threads give different weights, so a stage trained at another count is never
    #: reused as if it were the same bytes. Other stages do not depend on it.
    threads: int = 0
    suite: str = "evals/suites/aptk_scenarios_v1.jsonl"
    arm: ArmConfig = field(default_factory=ArmConfig)
    web: WebConfig = field(default_factory=WebConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    #: the mixer's `sources` are derived from `arm` (arm_sources); leave them empty in YAML
    mix: MixConfig = field(default_factory=MixConfig)
    shards: ShardsConfig = field(default_factory=ShardsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    contamination: ContaminationConfig = field(default_factory=ContaminationConfig)
    posttrain: PostTrainSpec = field(default_factory=PostTrainSpec)
    #: instrument-control documents (used only by arms whose synthetic source is a control)
    controls: ControlConfig = field(default_factory=ControlConfig)
    #: conditional-pretraining tags (used only by arms with a tagged base or synthetic source)
    tags: TagConfig = field(default_factory=TagConfig)

    def __post_init__(self) -> None:
        if self.mix.sources:
            raise ConfigError(
                "mix.sources",
                "is derived from arm.base / arm.synthetic / "
                "arm.synthetic_share / arm.insertion: set those instead",
            )
        self.mix.sources = build(
            MixConfig, {"sources": arm_sources(self.arm)}, "mix", validate=False
        ).sources

    def validate(self, prefix: str) -> None:
        check(bool(self.study) and "/" not in self.study, prefix, "study", "must be a plain name")
        check(self.seed >= 0, prefix, "seed", "must be >= 0")
        check(self.threads >= 0, prefix, "threads", "must be >= 0 (0 = torch default)")


def load_config(cfg: Any) -> ExperimentConfig:
    """Build and validate the experiment, every component config and the eval suite, so bad
    input fails before any stage writes anything."""
    from aptk.evals.importers import load_any

    exp = build(ExperimentConfig, cfg)
    load_any(suite_path(exp))  # a malformed suite line fails here, naming file, line and field
    return exp


def compose_experiment(*overrides: str) -> ExperimentConfig:
    """The experiment conf/config.yaml + overrides composes to (as `python -m aptk.pipeline.arm
    <overrides>` would run it), validated: for tests, notebooks and other tools."""
    from aptk.core.compose import compose

    register_configs()
    return load_config(compose(list(overrides), config_name="config"))


def suite_path(exp: ExperimentConfig) -> Path:
    return resource(exp.suite)


def components(exp: ExperimentConfig) -> dict[str, Any]:
    """The component configs by stage name (post-training recipes under their stage names)."""
    names = (
        "synth",
        "corpus",
        "filter",
        "tokenizer",
        "mix",
        "shards",
        "model",
        "train",
        "eval",
        "contamination",
    )
    return {
        **{n: getattr(exp, n) for n in names},
        **{n: getattr(exp.posttrain, n) for n in POSTTRAIN_STAGES},
    }


def register_configs() -> None:
    """Put the experiment schema in Hydra's ConfigStore (`aptk_schema`, first in conf/config.yaml's
    defaults): compose-time type checks and `--cfg job` show the typed config."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="aptk_schema", node=ExperimentConfig)


def arm_sources(arm: ArmConfig) -> list[dict]:
    """Mixer sources for an arm: the base fills what the synthetic share leaves."""
    if not arm.synthetic or arm.synthetic_share == 0.0:
        return [{"name": arm.base, "share": 1.0}]
    if arm.insertion == "whole":
        start, end = 0.0, 1.0
    elif arm.insertion == "midtrain":
        start, end = arm.start, 1.0
    else:
        start, end = arm.start, arm.end
    if arm.synthetic == TAGGED:  # each stance tagged, half the synthetic share each
        half = arm.synthetic_share / 2
        return [
            {"name": arm.base, "share": round(1.0 - arm.synthetic_share, 12)},
            *({"name": f"{s}_tagged", "share": half, "start": start, "end": end} for s in STANCES),
        ]
    return [
        {"name": arm.base, "share": round(1.0 - arm.synthetic_share, 12)},
        {"name": arm.synthetic, "share": arm.synthetic_share, "start": start, "end": end},
    ]


def uses_tags(exp: ExperimentConfig) -> bool:
    """Whether the arm reads tagged sources (then it gets the tag tokenizer and tag evals)."""
    return exp.arm.base == "web_tagged" or exp.arm.synthetic == TAGGED
