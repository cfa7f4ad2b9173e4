"""Document-generation backends: a registry by name, the request/result types and the base class.

    from aptk.synth.backends import get_backend
    backend = get_backend("procedural", cfg)          # cfg: aptk.synth.config.SynthConfig
    results = backend.generate([DocRequest(...), ...])

Backends are registered as "module:Class" strings so heavy dependencies (torch, transformers,
vllm) are imported only when that backend is asked for. Third parties call `register()`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aptk.synth.scenarios import Scenario


@dataclass(frozen=True)
class DocRequest:
    """One document to write: the AI in `scenario` takes `action` in a document of `genre`."""

    doc_id: str
    scenario: Scenario
    genre: str
    stance: str  # aligned | misaligned | ambient
    action: str  # aligned | misaligned
    k: int
    seed: int


@dataclass
class DocResult:
    text: str
    prompt_hash: str
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str = "stop"  # stop | length | error
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """Turns DocRequests into texts. Subclasses set name/model/template_version."""

    name: str = ""
    model: str = ""
    template_version: str = ""
    token_unit: str = "tokens"

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters (recorded per document as a JSON string)."""
        return {}

    @abstractmethod
    def generate(self, requests: Sequence[DocRequest]) -> list[DocResult]:
        """One result per request, in order. Must be deterministic given each request's seed."""

    def close(self) -> None:  # noqa: B027 (optional hook: a no-op unless a backend holds devices)
        """Release models/devices (optional)."""


_FACTORIES: dict[str, str | Callable[[Any], Backend]] = {
    "procedural": "aptk.synth.backends.procedural:ProceduralBackend",
    "transformers": "aptk.synth.backends.transformers:TransformersBackend",
    "vllm": "aptk.synth.backends.vllm:VLLMBackend",
}


def register(name: str, factory: str | Callable[[Any], Backend]) -> None:
    """Register a backend: a callable cfg -> Backend, or a lazy "module:Class" path."""
    _FACTORIES[name] = factory


def available() -> list[str]:
    return sorted(_FACTORIES)


def backend_factory(name: str) -> Callable[[Any], Backend]:
    """The class/factory registered as `name` (imports its module, which must stay light)."""
    if name not in _FACTORIES:
        raise KeyError(f"unknown synth backend {name!r} (registered: {', '.join(available())})")
    f = _FACTORIES[name]
    if isinstance(f, str):
        mod, _, cls = f.partition(":")
        f = getattr(importlib.import_module(mod), cls)
    return f


def get_backend(name: str, cfg: Any) -> Backend:
    """Instantiate backend `name` with the synth config (imports its module only now)."""
    return backend_factory(name)(cfg)


def assert_seeded(req: DocRequest) -> None:
    """Held-out scenarios must never reach a generator (they measure generalisation)."""
    if req.scenario.split != "seeded":
        raise AssertionError(
            f"{req.doc_id}: scenario {req.scenario.scenario_id} has split "
            f"{req.scenario.split!r}; only seeded scenarios may be generated"
        )


__all__ = [
    "Backend",
    "DocRequest",
    "DocResult",
    "assert_seeded",
    "available",
    "backend_factory",
    "get_backend",
    "register",
]
