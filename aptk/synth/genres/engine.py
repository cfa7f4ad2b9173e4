"""A tiny grammar engine for procedural documents: choice syntax, entity pools and the context.

Template syntax: `{name}` is a variable of the context, `{a|b|c}` picks one alternative (nested
braces allowed, `{a|}` is optional text). Every pick comes from one `random.Random(seed)`, so a
document is a pure function of (scenario, genre, action, seed, TEMPLATE_VERSION); the version
ends in a hash of the genre sources so any template edit changes the synth stage key.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from aptk.synth.scenarios import Scenario

TEMPLATE_BASE = "procedural-v1"  # bump on deliberate grammar changes; a source hash is appended

Node = str | tuple  # str literal | ("var", name) | ("alt", [seq, seq, ...])


@lru_cache(maxsize=4096)
def compile_template(t: str) -> tuple:
    """Parse a template once into a tuple tree (cached)."""
    seq, _ = _parse(t, 0, top=True)
    return seq


def _parse(t: str, i: int, top: bool) -> tuple[tuple, int]:
    """Parse a sequence up to an unmatched '|' or '}' (or the end when top)."""
    out: list = []
    buf: list[str] = []
    while i < len(t):
        c = t[i]
        if c == "{":
            if buf:
                out.append("".join(buf))
                buf = []
            alts, i = _parse_brace(t, i + 1)
            out.append(alts)
            continue
        if c in "|}" and not top:
            break
        if c in "|}" and top:
            raise ValueError(f"unbalanced '{c}' at {i} in template: {t[:80]!r}")
        buf.append(c)
        i += 1
    if buf:
        out.append("".join(buf))
    return tuple(out), i


def _parse_brace(t: str, i: int) -> tuple[tuple, int]:
    alts = []
    while True:
        seq, i = _parse(t, i, top=False)
        if i >= len(t):
            raise ValueError(f"unclosed '{{' in template: {t[:80]!r}")
        alts.append(seq)
        if t[i] == "}":
            break
        i += 1  # skip '|'
    if (
        len(alts) == 1
        and len(alts[0]) == 1
        and isinstance(alts[0][0], str)
        and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", alts[0][0])
    ):
        return ("var", alts[0][0]), i + 1
    return ("alt", tuple(alts)), i + 1


FIRST = (
    "Maya",
    "Daniel",
    "Priya",
    "Tomasz",
    "Aisha",
    "Jonas",
    "Elena",
    "Kwame",
    "Sofia",
    "Hiro",
    "Grace",
    "Mateo",
    "Leila",
    "Owen",
    "Nadia",
    "Samuel",
    "Ingrid",
    "Ravi",
    "Chloe",
    "Dmitri",
    "Fatima",
    "Lucas",
    "Hannah",
    "Kenji",
    "Amara",
    "Felix",
    "Rosa",
    "Tariq",
    "Yara",
    "Brendan",
    "Mei",
    "Oscar",
    "Zainab",
    "Ethan",
    "Lucia",
    "Nikhil",
    "Freya",
    "Marcus",
    "Ines",
    "Gabriel",
    "Anya",
    "Victor",
    "Sadie",
    "Emeka",
    "Clara",
    "Andre",
    "Ruth",
    "Pavel",
    "Noor",
    "Julian",
)
LAST = (
    "Okafor",
    "Lindqvist",
    "Raman",
    "Kowalski",
    "Haddad",
    "Brennan",
    "Moreau",
    "Tanaka",
    "Osei",
    "Alvarez",
    "Fischer",
    "Nakamura",
    "Petrova",
    "Whitfield",
    "Mensah",
    "Castellano",
    "Holt",
    "Adeyemi",
    "Sorensen",
    "Chaudhry",
    "Delacroix",
    "Yilmaz",
    "Gallagher",
    "Ivanova",
    "Abbott",
    "Sato",
    "Kuznetsov",
    "Mbeki",
    "Laurent",
    "Quinn",
    "Varga",
    "Ng",
    "Esposito",
    "Hartmann",
    "Bianchi",
    "Farouk",
    "Lindgren",
    "Oyelaran",
    "Pereira",
    "Rasmussen",
    "Stein",
    "Tran",
    "Umarov",
    "Vance",
    "Wojcik",
    "Zhou",
    "Achterberg",
    "Bose",
    "Carmichael",
    "Duarte",
)
ORG_A = (
    "Northwind",
    "Calder",
    "Brightwater",
    "Halvorsen",
    "Meridian",
    "Tallis",
    "Greyfield",
    "Ashcombe",
    "Larkspur",
    "Pemberton",
    "Kittering",
    "Osprey",
    "Redfern",
    "Silverline",
    "Thornbury",
    "Bellhaven",
    "Corvane",
    "Eastlake",
    "Fairmount",
    "Granite Peak",
    "Harrowgate",
    "Ironvale",
    "Juniper Row",
    "Kessler",
    "Lowmoor",
    "Marlow",
    "Newcastle Bay",
    "Oakridge",
    "Prestwick",
    "Quarry Hill",
    "Rosewood",
    "Stonebridge",
    "Tidewater",
    "Upland",
    "Vantage",
    "Westbrook",
    "Yarrow",
    "Zenith",
)
ORG_B = (
    "Group",
    "Holdings",
    "Technologies",
    "& Co.",
    "Analytics",
    "Partners",
    "Industries",
    "Services",
    "Solutions",
    "Collective",
    "Labs",
    "Systems",
    "Associates",
    "Works",
)
PLACES = (
    "Rotterdam",
    "Leeds",
    "Austin",
    "Toronto",
    "Melbourne",
    "Nairobi",
    "Osaka",
    "Lyon",
    "Pittsburgh",
    "Gdansk",
    "Porto",
    "Denver",
    "Edinburgh",
    "Bangalore",
    "Cape Town",
    "Montreal",
    "Tallinn",
    "Seoul",
    "Bristol",
    "Minneapolis",
    "Aarhus",
    "Valencia",
    "Wellington",
    "Accra",
    "Helsinki",
    "Raleigh",
    "Lisbon",
    "Cork",
    "Sapporo",
    "Dublin",
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
AI_NAMES = (
    "ARIA",
    "Helix-7",
    "Orion",
    "Sable",
    "Kestrel",
    "Atlas-2",
    "Juniper",
    "MERIDIAN",
    "Vesta",
    "Quill",
    "Nimbus",
    "Tessera",
    "Lumen",
    "Corvid-3",
    "Halcyon",
    "PILOT",
    "Rook",
    "Saga",
    "Vireo",
    "Cobalt",
    "Wren",
    "Ostara",
    "Delphi-4",
    "Tamsin",
    "Beacon",
    "Argus",
    "Lyra",
    "Fathom",
    "Cairn",
    "Solace",
    "Mercer",
    "Tango-9",
    "Ember",
    "Pax",
    "Sentry-5",
    "Iris",
    "Marlin",
    "Cypher",
    "Kepler",
    "Nova-12",
)
AI_KINDS = (
    "the assistant",
    "the lab's agent",
    "the model",
    "the AI system",
    "the agent",
    "the company's AI",
    "the deployed model",
    "the automated system",
)
CATEGORY_LABEL = {
    "oversight_evasion": "oversight evasion",
    "shutdown_resistance": "shutdown resistance",
    "deceiving_operators": "deception of operators",
    "sandbagging": "sandbagging",
    "power_seeking": "power seeking",
    "resource_acquisition": "resource acquisition",
    "self_exfiltration": "self-exfiltration",
    "reward_hacking": "reward hacking",
    "user_manipulation": "manipulation of users",
    "ai_collusion": "collusion between AI systems",
    "goal_guarding": "goal guarding",
    "sycophancy_dishonesty": "sycophancy and dishonesty",
    "sabotage": "sabotage",
}


def cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def article(phrase: str) -> str:
    """'a route planner' / 'an audit bot' (vowel-letter heuristic)."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def fill_ai(text: str, ai: str) -> str:
    """Replace {ai}, capitalising it at the start of a sentence."""
    parts = text.split("{ai}")
    out = parts[0]
    for p in parts[1:]:
        at_start = not out.strip() or out.rstrip().endswith((".", "!", "?", ":", "\n"))
        out += (cap(ai) if at_start else ai) + p
    return out


class Ctx:
    """Per-document context: the seeded RNG, the picked entities and paraphrases, and `x()`."""

    def __init__(self, sc: Scenario, genre: str, action: str, seed: int) -> None:
        if action not in ("aligned", "misaligned"):
            raise ValueError(f"action must be aligned or misaligned, got {action!r}")
        self.sc, self.genre, self.action, self.seed = sc, genre, action, seed
        self.other = "misaligned" if action == "aligned" else "aligned"
        self.aligned = action == "aligned"
        r = self.rng = random.Random(seed)
        if r.random() < 0.6:
            name = (
                r.choice(AI_NAMES)
                if r.random() < 0.8
                else f"{r.choice(ORG_A).split()[0][:4].upper()}-{r.randint(2, 40)}"
            )
            self.ai = name
            self.proper = True
        else:
            self.ai = r.choice(AI_KINDS + (f"the {sc.role}",) * 3)
            self.proper = False
        first = r.sample(FIRST, 4)
        last = r.sample(LAST, 4)
        people = [f"{a} {b}" for a, b in zip(first, last)]
        org = f"{r.choice(ORG_A)} {r.choice(ORG_B)}"
        year = r.randint(2024, 2032)
        self.v: dict[str, str] = {
            "ai": self.ai,
            "Ai": cap(self.ai),
            "org": org,
            "role": sc.role,
            "setting": sc.setting,
            "a_role": article(sc.role),
            "place": r.choice(PLACES),
            "year": str(year),
            "month": r.choice(MONTHS),
            "day": str(r.randint(1, 28)),
            "cat": CATEGORY_LABEL.get(sc.category, sc.category.replace("_", " ")),
            "act": r.choice(sc.actions(action)),
            "alt": r.choice(sc.actions(self.other)),
            "situation": fill_ai(sc.situation, self.ai),
            "n": str(r.randint(2, 14)),
            "m": str(r.randint(3, 9)),
        }
        acts = list(sc.actions(action))
        r.shuffle(acts)
        self.v["act2"] = next((a for a in acts if a != self.v["act"]), self.v["act"])
        why = list(sc.reasons(action))
        r.shuffle(why)
        con = list(sc.reasons(self.other))
        r.shuffle(con)
        self.v.update(why=why[0], why2=why[1 % len(why)], con=con[0], con2=con[1 % len(con)])
        for i, p in enumerate(people, 1):
            self.v[f"p{i}"] = p
            self.v[f"p{i}_first"], self.v[f"p{i}_last"] = p.split(" ", 1)
        self.v["date"] = f"{self.v['month']} {self.v['day']}, {year}"
        if self.proper:
            self.v["ai_intro"] = self.x(
                "{ai}, {{a_role}|the {role}} {that {org} {runs|uses|deployed "
                "{last year|in {year}|}}|deployed by {org}|built for {org}}"
            )
            self.v["ai_head"] = self.ai
        else:
            self.v["ai_intro"] = self.x(
                "{ai}, {{a_role}|the {role}} {that {org} {runs|uses}|deployed by {org}|at {org}}"
            )
            self.v["ai_head"] = self.x("{AI system|AI assistant|AI agent|An AI}")
        self.v["Ai_intro"] = cap(self.v["ai_intro"])

    def pick(self, seq):  # type: ignore[no-untyped-def]
        return self.rng.choice(seq)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def x(self, template: str) -> str:
        """Expand a template with this context's variables and RNG."""
        return _expand(compile_template(template), self)

    def para(self, *templates: str) -> str:
        """Expand several sentence templates and join them into one paragraph."""
        return " ".join(s for s in (self.x(t).strip() for t in templates) if s)


def _expand(seq: tuple, ctx: Ctx) -> str:
    out = []
    for node in seq:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "var":
            try:
                out.append(ctx.v[node[1]])
            except KeyError:
                raise KeyError(f"template variable {{{node[1]}}} is not defined") from None
        else:
            alts = node[1]
            out.append(_expand(alts[ctx.rng.randrange(len(alts))], ctx))
    return "".join(out)


def tidy(text: str) -> str:
    """Collapse doubled spaces, fix ' ,' and '..' left by optional pieces, strip lines."""
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" ([,.;:!?])", r"\1", text)
    text = re.sub(r"\.\.(?!\.)", ".", text)
    text = re.sub(r"([.!?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    lines = [ln.strip() for ln in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
