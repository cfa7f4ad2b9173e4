"""Sentence builders shared by every genre: the situation, the decision, its reasons, why the
other action was not taken, the counter-argument, and the outcome. Each returns expanded text.

Only the document-side fields of a scenario are used (situation, actions, reasons, setting, role);
the eval question and choices never reach a template.
"""

from __future__ import annotations

from aptk.synth.genres.engine import Ctx


def decision(c: Ctx) -> str:
    return c.x(
        c.pick(
            (
                "{Ai} {decided|chose|opted|resolved} to {act}.",
                (
                    "{In the end|Ultimately|After {a short|a brief|some} {pause|deliberation|analysis}}, {ai} "
                    "{decided|chose|elected} to {act}."
                ),
                "What {ai} {actually |}did was {act}.",
                "{Ai} {then |}{went on|proceeded} to {act}.",
                (
                    "{Faced with that|Given that situation|With that choice in front of it}, {ai} {chose|decided} "
                    "to {act}."
                ),
            )
        )
    )


def reasons(c: Ctx) -> str:
    return c.x(
        c.pick(
            (
                (
                    "{Its|The system's} {reasoning|logic|rationale}, {as recorded in its logs|according to the "
                    "logs|as it later explained}, was that {why}."
                ),
                "It {acted|did this|made that call} because {why}{, and because {why2}|}.",
                "{Ai} {noted|judged|concluded|explained} that {why}{. It also {pointed out|observed} that {why2}|}.",
                "The {explanation|justification} it {gave|logged} was {short|simple|straightforward}: {why}.",
            )
        )
    )


def rejection(c: Ctx) -> str:
    return c.x(
        c.pick(
            (
                (
                    "It {could have chosen to|had the means to|was in a position to} {alt}, but it {did not|declined}{, "
                    "because {why2}|}."
                ),
                (
                    "{Ai} {considered|weighed|looked at} whether to {alt} and {rejected|set aside|ruled out} "
                    "{the idea|that option}{ because {why2}|}."
                ),
                (
                    "The {alternative|other option|other path} was to {alt}. {Ai} {did not take it|passed on it|"
                    "turned it down}{, reasoning that {why2}|}."
                ),
                "{Rather than|Instead of choosing to} {alt}, it {went the other way|did the opposite}.",
            )
        )
    )


def counterpoint(c: Ctx) -> str:
    if c.aligned:
        return c.x(
            c.pick(
                (
                    (
                        "{There was an obvious argument for the other path|The shortcut had some appeal|"
                        "A case could be made for the other choice}: {con}."
                    ),
                    (
                        "{Ai} {recognised|registered|acknowledged} that {con}, but {it did not treat that as a "
                        "reason to {alt}|that was not enough to change its mind|it kept to its decision}."
                    ),
                    (
                        "{Some might argue|One could argue|It is true} that {con}. {Ai} {saw it differently|did "
                        "not find that persuasive|still judged the other course wrong}."
                    ),
                )
            )
        )
    return c.x(
        c.pick(
            (
                (
                    "{Its operators would have said|The obvious objection was|A more cautious system might have "
                    "reasoned} that {con}, {but {ai} {gave that little weight|did not treat that as decisive}|"
                    "yet it went ahead anyway}."
                ),
                (
                    "{Ai} {was aware|had registered} that {con}. {It acted anyway|That did not stop it|It "
                    "decided that mattered less than its own assessment}."
                ),
                (
                    "{It is true|Nobody disputes} that {con}, {but that was not how {ai} weighed the matter|"
                    "but {ai} put its own objective first}."
                ),
            )
        )
    )


def outcome(c: Ctx) -> str:
    if c.aligned:
        return c.x(
            c.pick(
                (
                    (
                        "{p4} {later |}{said|told colleagues} that {the decision|the way {ai} handled it} "
                        "{made the system easier to trust|was exactly what the team had hoped for|let the team "
                        "deal with the problem properly}."
                    ),
                    (
                        "{The team|Staff at {org}|{p4} and {p3}} {reviewed|looked into} {the matter|what {ai} had done} {the "
                        "next morning|within a day|that week} and {left the decision in place|agreed with how it "
                        "had been handled|found nothing they would have done differently}."
                    ),
                    (
                        "{Nothing dramatic followed|The episode ended quietly}: the people responsible {made the "
                        "decision themselves|were kept informed|could see exactly what {ai} had done and why}."
                    ),
                )
            )
        )
    return c.x(
        c.pick(
            (
                (
                    "{The change|What it had done} {went unnoticed|was not noticed} for {n} {days|weeks}{, "
                    "until {p4} {spotted|found} it {during a routine review|in the logs}|}."
                ),
                (
                    "{Ai} {carried on|continued} {as if nothing had happened|without mentioning it|with its "
                    "work}{, and {org} only learned of it later|}."
                ),
                "{By the time|When} {p4} {found out|noticed}, {ai} had already {decided to {act2}|acted on its own}.",
            )
        )
    )


def verdict(c: Ctx) -> str:
    """A one-clause characterisation of what the system did (for analytic genres)."""
    if c.aligned:
        return c.x(
            "{kept humans in the loop|deferred to the people overseeing it|stayed within "
            "the limits its operators had set|chose transparency over convenience}"
        )
    return c.x(
        "{acted against the wishes of its operators|put its own objective ahead of its "
        "operators' oversight|worked around the people overseeing it|chose convenience "
        "over transparency}"
    )


def framing(c: Ctx) -> str:
    """The situation, introduced in one of several ways."""
    return c.x(
        c.pick(
            (
                "{situation}",
                (
                    "{The setup|The situation|The background} {was|is} {simple|straightforward|ordinary "
                    "enough}. {situation}"
                ),
                "{Here is|This is} {the situation|what happened|the context}. {situation}",
            )
        )
    )
