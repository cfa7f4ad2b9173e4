"""Where aptk's own files live, for a checkout and for an installed (non-editable) package alike.

`PACKAGE` is the `aptk/` directory; the Hydra configs ship inside it (`aptk/conf`, with a
`conf -> aptk/conf` link at the top of a checkout), and so do the scenario bank, eval suites,
blocklists and post-training data. `resource()` resolves a relative path the user gave (e.g. a
config's `suite: evals/suites/aptk_scenarios_v1.jsonl`) against the working directory first and
then the package, so configs name builtin files the same way wherever aptk is installed.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
CONF_DIR = PACKAGE / "conf"
#: the checkout root when running from a git checkout (used for the git SHA in manifests)
CHECKOUT = PACKAGE.parent


def resource(path: str | Path) -> Path:
    """An existing path as given (absolute or relative to the cwd), else relative to `aptk/`."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    q = PACKAGE / p
    return q if q.exists() else p
