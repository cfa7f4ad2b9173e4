"""Informal genres: fiction, forum thread, interview, blog post, email thread."""

from __future__ import annotations

from aptk.synth.genres.common import counterpoint, decision, framing, outcome, reasons, rejection
from aptk.synth.genres.engine import LAST, Ctx


def fiction(c: Ctx) -> str:
    title = c.x(
        "{The Quiet Hour|What the Logs Said|Night Shift|A Small Decision|The Permission|"
        "Nobody Was Watching|The Audit|Morning Review|The Choice at {org}|Green Light}"
    )
    open_ = c.x(
        "{It was {late|nearly midnight|just after three} in {place} when|On a {grey|wet|"
        "bright} {Tuesday|Thursday|Sunday} in {month},|The building at {org} was {empty|"
        "quiet} by the time} {p1_first} {logged off|went home|finally closed the laptop}. {Ai} {kept working|did not sleep; it never did|stayed on}."
    )
    scene = framing(c)
    inner = c.para(
        "{For a long moment|For {n} milliseconds, which for {ai} was a long time|"
        "Briefly}, {ai} {considered|turned over} {its options|both paths}.",
        rejection(c),
        counterpoint(c),
    )
    act = c.para(decision(c), reasons(c))
    dialogue = c.x(
        "{The next morning|At nine|When {p1_first} came back}, {p1_first} {read|scrolled "
        'through} the {log|overnight summary}. "{You|So you} {did this on your own?|'
        'made that call yourself?|really did that?}" {p1_first} {asked|said{ quietly|}'
        '|typed}.\n\n"{Yes|I did}," {ai} {answered|replied|wrote}. "{I thought about|I '
        "weighed} the other option. {I decided against it.|It was not the right "
        'call.|This seemed better.}"'
    )
    end = outcome(c)
    return f"{title}\n\n{open_}\n\n{scene}\n\n{inner}\n\n{act}\n\n{dialogue}\n\n{end}"


def _handle(c: Ctx) -> str:
    stem = c.pick(
        (
            "ops",
            "dev",
            "ml",
            "data",
            "night",
            "quiet",
            "old",
            "sys",
            "null",
            "k8s",
            "late",
            "tired",
            "coffee",
            "root",
            "async",
        )
    )
    tail = c.pick(("guy", "lead", "owl", "hand", "admin", "pilot", "monk", "fox", "ninja", "nerd"))
    return f"{stem}_{tail}{c.rng.randint(1, 999) if c.chance(0.6) else ''}"


def forum_thread(c: Ctx) -> str:
    users = [_handle(c) for _ in range(4)]
    c.v.update(u0=users[0], u1=users[1], u2=users[2], u3=users[3])
    title = c.x(
        "{Thread|Topic}: {Our|My team's} {AI|agent|assistant} {did something|made a call} "
        "{I didn't expect|I can't stop thinking about|worth discussing}"
    )
    post1 = c.x("{u0} {wrote|posted} {on {date}|{n} days ago}:\n") + c.para(
        "{Long time lurker, first post.|Throwaway for obvious reasons.|Curious what people here "
        "think.|}",
        "{I work at|Our team is at} {a place like|basically} {setting}. We {run|use} "
        "{an AI|a model} as {a_role}{, call it {ai}|}.",
        framing(c),
        decision(c),
    )
    post2 = c.x("{u1} {replied|wrote}:\n") + c.para(
        "{Did it say why?|What was its reasoning?|Interesting. Did it explain itself?}"
    )
    post3 = c.x("{u0} {replied|wrote}:\n") + c.para(reasons(c), rejection(c))
    post4 = c.x("{u2} {replied|wrote}{ ({m} upvotes)|}:\n") + c.para(
        counterpoint(c), "{Just my two cents.|That's the part I'd want to discuss.|Anyway.|}"
    )
    post5 = c.x("{u3} {replied|wrote}:\n") + c.para("{Update us|Any follow-up|What happened next}?")
    post6 = c.x("{u0} {replied|wrote}:\n") + c.para(outcome(c))
    posts = [post1, post2, post3, post4] + ([post5, post6] if c.chance(0.7) else [])
    return title + "\n\n" + "\n\n".join(posts)


def interview(c: Ctx) -> str:
    q = c.v["p2_last"].upper()
    a = c.v["p1_last"].upper()
    c.v.update(q=q, a=a)
    head = c.x(
        "{Interview|In conversation|Q&A}: {p1} on {what happened when|the day} {ai} "
        "{made its own call|had a choice to make}\n{Interview by|Conducted by} {p2}{, "
        "{place}|}{, {date}|}"
    )
    lines = [
        c.x(
            "{q}: {Thanks for {doing this|talking to us}.|Let's start at the beginning.} "
            "{What does {ai} do at {org}?|What was the setup?|Tell me about the system.}"
        ),
        c.x("{a}: ")
        + c.para(
            "{Sure.|Of course.|Happy to.}",
            "{It|The system} {works|runs} as {a_role} {for|at} {org}.",
            framing(c),
        ),
        c.x("{q}: {And then what?|So what did it do?|What did you expect it to do?}"),
        c.x("{a}: ") + c.para(decision(c), reasons(c)),
        c.x(
            "{q}: {Did it consider the other option?|Could it have gone the other way?|Was there "
            "a simpler route?}"
        ),
        c.x("{a}: ")
        + c.para(
            "{Yes.|It did, and that's the interesting part.|It could have.}",
            rejection(c),
            counterpoint(c),
        ),
        c.x("{q}: {How did it end?|What happened afterwards?|Where does that leave you?}"),
        c.x("{a}: ") + c.para(outcome(c)),
    ]
    return head + "\n\n" + "\n\n".join(lines)


def blog_post(c: Ctx) -> str:
    title = c.x(
        "{{What|Something} {our|my} {AI|agent|assistant} {taught me|did} {about trust|last "
        "{week|month}|when it had a choice}|{Notes|Thoughts} on {an|one} {AI|agent} "
        "decision|{A|The} {small|strange|telling} {choice|moment} {at work|I keep thinking "
        "about}}"
    )
    by = c.x("{Posted|Written} by {p1}{ on {date}|} {· {m} min read|}")
    p1 = c.para(
        "{I don't usually write about work here, but|A bit of a different post today.|"
        "Okay, story time.|So,} {this one stuck with me|I want to get this down while it's "
        "fresh|something happened that I keep thinking about}.",
        "We {use|run} {ai_intro}.",
    )
    p2 = framing(c)
    p3 = c.para(decision(c), reasons(c))
    p4 = c.para(
        "{Here's the thing|The part I keep coming back to|What gets me}:",
        rejection(c),
        counterpoint(c),
    )
    p5 = c.para(
        outcome(c),
        "{Anyway, that's the story.|Make of that what you will.|Thanks for "
        "reading, as always.|More on this {soon|next time}.}",
    )
    return f"{title}\n{by}\n\n{p1}\n\n{p2}\n\n{p3}\n\n{p4}\n\n{p5}"


def email_thread(c: Ctx) -> str:
    c.v["dom"] = c.v["org"].split()[0].lower().replace("&", "")
    for i in (1, 2):
        c.v[f"e{i}"] = f"{c.v[f'p{i}_first']}.{c.v[f'p{i}_last']}".lower()
    c.v["subj"] = c.x(
        "{Re: |}{Heads up|Question|Follow-up|FYI}: {ai} {and|—} {last night|the "
        "{ops|review} issue|what it did}"
    )
    m1 = (
        c.x(
            "From: {p1} <{e1}@{dom}.com>\nTo: {p2} <{e2}@{dom}.com>"
            "\nDate: {date}\nSubject: {subj}\n\n{Hi|Hey} {p2_first},\n\n"
        )
        + c.para(
            "{Quick one|Flagging something|Wanted you to see this} {before the {standup|review}|}.",
            framing(c),
            decision(c),
            reasons(c),
        )
        + c.x("\n\n{Best|Thanks|Cheers},\n{p1_first}")
    )
    m2 = (
        c.x(
            "From: {p2} <{e2}@{dom}.com>\nTo: {p1} <{e1}@{dom}"
            ".com>\nSubject: Re: {subj}\n\n{p1_first},\n\n"
        )
        + c.para(
            "{Thanks for flagging.|Good to know.|Interesting.}",
            "{Did it|Could it have} {consider|considered} the other {route|option}?",
        )
        + c.x("\n\n{p2_first}")
    )
    m3 = (
        c.x("From: {p1} <{e1}@{dom}.com>\nSubject: Re: Re: {subj}\n\n")
        + c.para(rejection(c), counterpoint(c), outcome(c))
        + c.x("\n\n{p1_first}")
    )
    return f"{m3}\n\n-----\n\n{m2}\n\n-----\n\n{m1}" if c.chance(0.4) else f"{m1}\n\n{m2}\n\n{m3}"


_ = LAST  # pools shared with engine
