"""The one config loader: Hydra's compose API over aptk/conf, for every command line.

The pipeline runs under `@hydra.main` (aptk.pipeline.arm); every other CLI (train, eval,
post-training, synth) composes the same YAML files through `hydra.compose`, so defaults lists,
interpolations and override syntax behave identically everywhere.

    compose_group("train", "default", ["lr=3e-4"])         # conf/train/default.yaml + override
    compose_group("synth", "my_synth.yaml", ["seed=1"])     # a YAML file of the user's own
    compose(["+model=tiny", "+train=debug", "+seed=0"])      # several groups at once (no config.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aptk.core.errors import ConfigError
from aptk.core.paths import CONF_DIR


def compose(
    overrides: Sequence[str] = (), config_name: str | None = None, config_dir: str | Path = CONF_DIR
) -> dict[str, Any]:
    """Compose `config_name` (or nothing but the overrides) from `config_dir`, resolved to plain
    data. Hydra's own errors (unknown group option, bad override syntax) become ConfigError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    for o in overrides:
        if "=" not in o:
            raise ConfigError(o, "overrides must look like key=value")
    try:
        with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(config_name or "overrides", str(e).splitlines()[0]) from None


def compose_group(
    group: str, name: str, overrides: Sequence[str] = (), root: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One group's config: `conf/<group>/<name>.yaml`, or `name` as a path to a YAML file, with
    `key=value` overrides relative to the group. `root` supplies top-level values the files
    interpolate (e.g. `${seed}` in conf/train)."""
    extra = [f"+{k}={v}" for k, v in (root or {}).items()]
    if name.endswith((".yaml", ".yml")):
        p = Path(name)
        if not p.is_file():
            raise ConfigError(group, f"no such config file {p}")
        cfg = compose([*extra, *overrides], config_name=p.stem, config_dir=p.parent)
        for k in root or {}:
            cfg.pop(k, None)
        return cfg
    if not (CONF_DIR / group / f"{name}.yaml").is_file():
        have = sorted(f.stem for f in (CONF_DIR / group).glob("*.yaml"))
        raise ConfigError(group, f"no config {group}/{name}.yaml (have: {', '.join(have)})")
    cfg = compose([f"+{group}={name}", *extra, *(f"{group}.{o}" for o in overrides)])
    return cfg[group]
