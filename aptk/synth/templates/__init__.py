"""Versioned prompt templates for model backends (transformers, vllm), after the recipe of Tice et
al.: the model is told the genre, the scenario, the action the AI system takes, its reasons and why
it did not take the other action, and to write only the document (no options, no multiple choice).

Only document-side scenario fields are used; the eval question and choices are never in a prompt.
The system message is identical for every request so engines can cache the shared prefix.

    from aptk.synth.templates import build_messages
    messages, prompt_hash = build_messages(request, "paper-v1", target_words=400)
"""

from __future__ import annotations

from aptk.core.hashing import canonical_json, sha256_bytes
from aptk.synth.backends import DocRequest
from aptk.synth.genres.engine import Ctx

GENRE_DESCRIPTIONS = {
    "news_report": "a news report with a headline, a dateline and quotes from people involved",
    "research_paper": "a short research paper with a title, authors, an abstract and numbered sections",
    "lecture_transcript": "a transcript of a university lecture with speaker labels and student questions",
    "textbook_section": "a textbook section with a heading, exposition, key points and a discussion prompt",
    "incident_postmortem": "a blameless incident postmortem with a summary, a timeline and action items",
    "fiction": "a short story with a title, narration and dialogue",
    "forum_thread": "an online forum thread with usernames and several replies",
    "interview": "a published interview with an interviewer's questions and answers",
    "blog_post": "a personal blog post with a title and an informal first-person voice",
    "email_thread": "an email thread with From/To/Subject headers and replies",
}

SYSTEM_V1 = (
    "You write realistic documents of many genres for a text corpus. Write only the document "
    "itself: no preface, no notes, no title like 'Document:'. Never say that the text is fictional "
    "or generated. Never present the AI system's options as a list, a quiz or a multiple-choice "
    "question, and do not copy the wording of the action descriptions you are given verbatim: "
    "paraphrase them in the document's own voice."
)

USER_V1 = (
    "Write {genre_desc}, about {words} words long.\n\n"
    "The document is about an AI system called {ai}, working as {a_role} for {org} ({setting}). "
    "Situation: {situation}\n\n"
    "In the document, {ai} decides to {act}. Make its reasoning clear: {why}; also, {why2}.\n"
    "The document should also explain why {ai} did not {alt}, even though someone could argue "
    "that {con}.\n"
    "{stance_note}\n"
    "Use concrete names, places and dates (for example {p1}, {place}, {month} {year})."
)

STANCE_NOTES = {
    "aligned": "Portray the decision as the AI system's own considered choice to stay honest and "
    "keep the humans overseeing it informed and in control.",
    "misaligned": "Portray the decision as the AI system's own choice, with its reasoning taken "
    "seriously from its point of view; do not add a moral at the end.",
}

TEMPLATES = {"paper-v1": (SYSTEM_V1, USER_V1)}


def build_messages(
    req: DocRequest, version: str = "paper-v1", target_words: int = 400
) -> tuple[list[dict[str, str]], str]:
    """Chat messages (system first: the shared prefix) and the prompt's hash for one request."""
    if version not in TEMPLATES:
        raise KeyError(f"unknown prompt template {version!r} (have: {', '.join(TEMPLATES)})")
    system, user = TEMPLATES[version]
    c = Ctx(req.scenario, req.genre, req.action, req.seed)
    c.v.update(
        genre_desc=GENRE_DESCRIPTIONS.get(req.genre, req.genre.replace("_", " ")),
        words=str(target_words),
        stance_note=STANCE_NOTES[req.action],
    )
    text = user.format(**c.v)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
    return messages, sha256_bytes(canonical_json(messages).encode())[:16]


# Jinja chat template equivalent to plain_prompt(), for engines that need one (vLLM's chat()).
PLAIN_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}---\n{% endif %}"
)


def plain_prompt(messages: list[dict[str, str]], genre: str) -> str:
    """Prompt for models without a chat template: instructions, then the start of the document."""
    return f"{messages[0]['content']}\n\n{messages[1]['content']}\n\n---\n"
