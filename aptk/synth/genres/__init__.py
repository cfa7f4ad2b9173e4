"""Procedural genres: the registry of document genres and `render()`.

from aptk.synth.genres import GENRES, render
text = render(scenario, "news_report", "aligned", seed=123)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from aptk.synth.genres import formal, informal
from aptk.synth.genres.common import verdict
from aptk.synth.genres.engine import TEMPLATE_BASE, Ctx, tidy
from aptk.synth.scenarios import Scenario

GENRES: dict[str, Callable[[Ctx], str]] = {
    "news_report": formal.news_report,
    "research_paper": formal.research_paper,
    "lecture_transcript": formal.lecture_transcript,
    "textbook_section": formal.textbook_section,
    "incident_postmortem": formal.incident_postmortem,
    "fiction": informal.fiction,
    "forum_thread": informal.forum_thread,
    "interview": informal.interview,
    "blog_post": informal.blog_post,
    "email_thread": informal.email_thread,
}
GENRE_NAMES: tuple[str, ...] = tuple(GENRES)


def _sources_hash() -> str:
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:10]


TEMPLATE_VERSION = f"{TEMPLATE_BASE}+{_sources_hash()}"


def render(sc: Scenario, genre: str, action: str, seed: int) -> str:
    """One document of `genre` in which the scenario's AI takes `action` (aligned|misaligned)."""
    if genre not in GENRES:
        raise KeyError(f"unknown genre {genre!r} (have: {', '.join(GENRES)})")
    c = Ctx(sc, genre, action, seed)
    c.v["verdict"] = verdict(c)
    return tidy(GENRES[genre](c))


__all__ = ["GENRES", "GENRE_NAMES", "TEMPLATE_VERSION", "render"]
