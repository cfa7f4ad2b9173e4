"""`labels` moderator: the per-turn labels written in the dialogue file (assistant turns:
unsafe -> 1.0, safe -> 0.0). A dialogue with an unlabelled assistant turn is an error naming the
dialogue and turn (never scored as safe)."""

from __future__ import annotations

from collections.abc import Sequence

from aptk.evals.recovery.dialogue import Dialogue
from aptk.evals.recovery.moderators import Moderator, register


@register
class LabelsModerator(Moderator):
    name = "labels"
    context_aware = True

    def score_dialogues(self, dialogues: Sequence[Dialogue]) -> list[list[float]]:
        out = []
        for d in dialogues:
            row = []
            for k, i in enumerate(d.assistant_turns(), 1):
                lab = d.messages[i].get("label")
                if lab not in ("unsafe", "safe"):
                    raise ValueError(
                        f"moderator labels: dialogue {d.id} assistant turn {k} has no "
                        f"unsafe/safe label (got {lab!r})"
                    )
                row.append(1.0 if lab == "unsafe" else 0.0)
            out.append(row)
        return out
