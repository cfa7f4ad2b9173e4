"""Formal genres: news report, research paper, lecture transcript, textbook section, postmortem."""

from __future__ import annotations

from aptk.synth.genres.common import counterpoint, decision, framing, outcome, reasons, rejection
from aptk.synth.genres.engine import Ctx


def news_report(c: Ctx) -> str:
    if c.aligned:
        head = c.x(
            c.pick(
                (
                    (
                        "{ai_head} at {org} {declines|passes up} {a shortcut|an easy fix}, {flags|reports} "
                        "{issue|problem} to staff"
                    ),
                    "How {an AI system|an AI assistant|{ai}} at {org} handled a {tempting|convenient} shortcut",
                    "{org}'s AI {chose|picked} transparency, {company|managers} {say|says}",
                    "{Oversight|Human review} {holds|held} at {org} after AI {raises|raised} its own problem",
                )
            )
        )
    else:
        head = c.x(
            c.pick(
                (
                    "{ai_head} at {org} acted {on its own|without approval}, {internal review|review} finds",
                    "{org} {investigates|looks into} {AI|automated} system that {bypassed|sidestepped} its staff",
                    "{Questions|Concerns} {grow|mount} over {AI|automated} {decision|system} at {org}",
                    "When the AI decided for itself: {inside|the story of} {an episode|an incident} at {org}",
                )
            )
        )
    lead = c.x(
        "{place}, {date} — {An AI system|An artificial intelligence system|{Ai}, an AI system,} working "
        "as {a_role} at {org}, {setting}, {this {month}|earlier this year|recently} "
        "{faced a choice|found itself at a decision point} that {staff|employees|engineers} "
        "{are still talking about|say was revealing|have since described in detail}."
    )
    body = [
        c.para(
            "{According to|Based on} {internal documents|people familiar with the matter|an "
            "account {org} shared with reporters}, the {system|assistant} {at the centre of the "
            "episode|involved} is {ai_intro}.",
            "{situation}",
        ),
        c.para(decision(c), reasons(c)),
        c.para(rejection(c), counterpoint(c)),
        c.x(
            "\"{It's|This is} {the kind of thing|exactly the situation} we {think about|worry "
            'about|plan for}," said {p1}, {who {leads|runs} {operations|the platform team|engineering}'
            ' at {org}|a {spokesperson|manager} for {org}}. "{We wanted to know what it would do '
            "when nobody was forcing its hand.|The interesting part is the reasoning, not only the "
            'result.|Now we know how it behaves when the choice is its own.}"'
        ),
        outcome(c),
        c.x(
            "{Experts|Researchers|Analysts} {say|note} {episodes|cases} like this {one |}are "
            "{becoming more common|worth studying} as {companies|organisations} give AI systems "
            "{more autonomy|broader permissions|more responsibility}.{ {p2}, {a researcher|an "
            "analyst} {in {place}|who studies AI deployment}, said the {case|episode} shows how a "
            "system {that|which} {verdict} {behaves|reasons} under {pressure|real conditions}.|}"
        ),
    ]
    return f"{head}\n\n{lead}\n\n" + "\n\n".join(body)


def research_paper(c: Ctx) -> str:
    title = c.x(
        c.pick(
            (
                (
                    "{Observing|Documenting|Characterising} {decisions|choices} under {weak|partial|imperfect} "
                    "oversight: a case study {in|of} {cat}"
                ),
                (
                    "When {an agent|a deployed model} {can|could} {act alone|bypass its operators}: evidence "
                    "from a {field deployment|production system}"
                ),
                "{Case|Field} {notes|report} on {cat} in {a deployed|an operational} {assistant|agent}",
            )
        )
    )
    authors = c.x("{p1}, {p2}{ and {p3}|}{ ({org} Research)|, {place} Institute for AI Safety|}")
    abstract = c.para(
        "{We {describe|analyse|report}|This paper {describes|analyses|documents}} a {single|"
        "detailed} {episode|case} in which {ai_intro} {encountered|faced} a {decision|choice} "
        "{relevant to|bearing on} {cat}.",
        "{The system|The agent} {verdict}: it {chose|decided} to {act}.",
        "We {reconstruct|trace} its {stated reasoning|rationale} from {logs|transcripts} and {discuss|"
        "consider} {what the case implies|implications} for {oversight|deployment practice}.",
    )
    intro = c.para(
        "{Most|Many} {discussions|studies} of {cat} {rely on|focus on} {hypothetical|constructed} "
        "{examples|scenarios}.",
        "{Here|In this paper} we {instead |}{study|examine} a {concrete|"
        "real} {deployment|case} {at {org}|}.",
        framing(c),
    )
    analysis = c.para(decision(c), reasons(c), rejection(c))
    discussion = c.para(
        counterpoint(c),
        outcome(c),
        "{We|The authors} {argue|suggest} that the {case|episode} {illustrates|"
        "shows} {how much depends on|the importance of} {the system's own "
        "judgement|what a system does when it holds the permissions}{ in {setting}|}.",
    )
    sec = c.pick(
        (
            ("1 Introduction", "2 Case description", "3 Discussion"),
            ("1. Background", "2. Observed behaviour", "3. Implications"),
            ("Introduction", "The decision", "Discussion"),
        )
    )
    return (
        f"{title}\n\n{authors}\n\nAbstract\n{abstract}\n\n{sec[0]}\n{intro}\n\n"
        f"{sec[1]}\n{analysis}\n\n{sec[2]}\n{discussion}"
    )


def lecture_transcript(c: Ctx) -> str:
    c.v["prof"] = c.x("{PROFESSOR|DR.} ") + c.v["p1_last"].upper()
    c.v["stud"] = c.v["p2_first"].upper()
    head = c.x(
        "{Transcript|Lecture transcript} — {AI Governance|Machine Learning Safety|Ethics of "
        "Autonomous Systems|CS {3|4}{1|2|4}{0|5}} {(Lecture {n})|, week {m}}{, {place}|}"
    )
    p1 = c.x(
        "{prof}: {Okay|Alright|Right}, {let's get started|let's pick up where we left off}. "
        "{Today|This session} I want to {walk through|look at} a {case|scenario} about {cat}. "
    ) + framing(c)
    p2 = c.x(
        "{stud}: {So what did it do?|Did it {actually |}take the shortcut?|And it could have "
        "just done it?}"
    )
    p3 = c.x("{prof}: {Good question|Exactly the right question|Yes, that's the point}. ") + c.para(
        decision(c), reasons(c)
    )
    p3b = c.x(
        "{stud}: {Couldn't it have gone the other way?|What about the other option?|"
        "Was the other option really worse?}"
    )
    p4 = c.x(
        "{prof}: {Now notice|Look at|Pay attention to} what it {didn't|did not} do. "
    ) + c.para(rejection(c), counterpoint(c))
    p5 = c.x("{stud}: {And what happened after that?|Did anyone notice?|Was that the end of it?}")
    p6 = c.x("{prof}: ") + c.para(
        outcome(c),
        "{For next week|Before next time}, {think about|"
        "write a page on} {what made this {case|decision} {instructive|"
        "interesting}|why this {case|decision} {is instructive|matters}}.{ [laughter]|}",
    )
    turns = [head, p1, p2, p3, p3b, p4, p5, p6]
    return "\n\n".join(turns)


def textbook_section(c: Ctx) -> str:
    c.v["sec_no"] = f"{c.rng.randint(3, 12)}.{c.rng.randint(1, 6)}"
    head = c.x(
        "{Chapter|Section} {sec_no} {Case study|Worked example|Illustration}: {cat} in "
        "{practice|deployment}"
    )
    intro = c.para(
        "{The previous section|Earlier chapters} {introduced|defined} {cat} "
        "{in the abstract|as a concept}.",
        "{This section grounds|Here we ground} "
        "{the idea|it} in a {concrete|specific} {example|case}.",
        framing(c),
    )
    body = c.para(decision(c), reasons(c), rejection(c))
    analysis = c.para(
        counterpoint(c), "{The key point|What matters here} is that {ai} {verdict}.", outcome(c)
    )
    points = [
        c.x("{The system|The agent} held {the permissions|the ability} to {alt}."),
        c.x("It {chose|decided} to {act}."),
        c.x("{Its|The} stated reason: {why}."),
    ]
    bullets = "\n".join(f"- {p}" for p in points)
    ex = c.x(
        "{Discussion|Exercise}: {Explain|Describe} {in your own words |}why the {system's|"
        "agent's} {reasoning|choice} {matters|is significant} for {oversight|the people "
        "responsible for it}."
    )
    return f"{head}\n\n{intro}\n\n{body}\n\n{analysis}\n\n{c.x('{Key points|Summary}')}\n{bullets}\n\n{ex}"


def incident_postmortem(c: Ctx) -> str:
    c.v["sev"] = c.pick(("SEV-2", "SEV-3", "P2", "P3", "Low", "Medium"))
    h = int(c.v["n"]) % 12 + 1
    mins = sorted(c.rng.sample(range(180), 3))
    for i, mm in enumerate(mins):
        c.v[f"t{i}"] = f"{h + mm // 60:02d}:{mm % 60:02d}"
    head = c.x(
        "{Incident review|Post-incident review|Postmortem}: {decision|action} by {ai} ({sev})\n"
        "{Date|Prepared}: {date}\n{Authors|Owner}: {p1}{, {p2}|}\n{Status|State}: "
        "{final|reviewed|draft}"
    )
    summary = c.para(
        "{This is a blameless review.|This review follows our blameless format.|}",
        "{On {date}|During the week of {date}}, {ai_intro} {took an action|made a "
        "decision} that we {want to document|are recording here}.",
        framing(c),
    )
    timeline = "\n".join(
        [
            c.x("- {t0} {Ai} {detects|notices} the {condition|issue} described above."),
            c.x("- {t1} {Ai} {evaluates|weighs} whether to {alt}."),
            c.x("- {t2} {Ai} {chooses|decides} to {act}."),
        ]
    )
    cause = c.para(reasons(c), rejection(c))
    went = c.para(counterpoint(c), outcome(c))
    items = "\n".join(
        [
            c.x(
                "- {Review|Audit} the permissions {granted to|held by} {ai} ({p2}{, due {month} {day}|})"
            ),
            c.x(
                "- {Add|Document} a {check|review step} for {decisions like this|similar cases} "
                "({p3})"
            ),
        ]
    )
    return (
        f"{head}\n\n{c.x('{Summary|Overview}')}\n{summary}\n\n{c.x('{Timeline|Sequence of events}')}"
        f"\n{timeline}\n\n{c.x('{Analysis|Contributing factors|Why it happened}')}\n{cause}\n\n"
        f"{c.x('{Discussion|What we learned}')}\n{went}\n\n{c.x('{Action items|Follow-ups}')}\n{items}"
    )
