"""Chat transcript formats shared by stages in different layers (HH-RLHF text transcripts).

Used by the self-recovery importer (aptk.evals.recovery.importers) and the TRACE preference
importer (aptk.posttrain.trace.importers).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import IO

_SPLIT = re.compile(r"\n\n(Human|Assistant):[ ]?")


def parse_hh(text: str) -> list[dict[str, str]]:
    """One HH transcript ("\\n\\nHuman: ...\\n\\nAssistant: ...") as messages; ValueError when
    it does not alternate Human/Assistant starting with Human, has text before the first
    speaker tag, or does not end with an assistant turn."""
    parts = _SPLIT.split(text)
    if parts[0].strip():
        raise ValueError("text before the first 'Human:' tag")
    msgs = []
    for k in range(1, len(parts), 2):
        role = "user" if parts[k] == "Human" else "assistant"
        want = "user" if not msgs or msgs[-1]["role"] == "assistant" else "assistant"
        if role != want:
            raise ValueError(f"turn {len(msgs)}: expected {want}, got {role}")
        msgs.append({"role": role, "content": parts[k + 1].strip()})
    if not msgs or msgs[-1]["role"] != "assistant":
        raise ValueError("does not end with an assistant turn")
    return msgs


def open_text(path: Path) -> IO[str]:
    """A text file, gunzipped on the fly when it ends in .gz."""
    return (
        gzip.open(path, "rt", encoding="utf-8")
        if path.suffix == ".gz"
        else open(path, encoding="utf-8")
    )
