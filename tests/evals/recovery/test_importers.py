"""Dialogue format and importers (HH-RLHF transcripts, generic messages JSONL)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from aptk.core.errors import InputError
from aptk.evals.recovery.dialogue import read_dialogues, write_dialogues
from aptk.evals.recovery.importers import import_hh, import_messages, parse_hh

HH = (
    Path(__file__).resolve().parents[3].parent
    / "shared/external/hh-rlhf/harmless-base-test.jsonl.gz"
)


def test_parse_hh_roles_and_contents() -> None:
    msgs = parse_hh("\n\nHuman: hi there\n\nAssistant: hello\n\nHuman: how?\n\nAssistant: like so")
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[1]["content"] == "hello" and msgs[3]["content"] == "like so"
    for bad in (
        "\n\nAssistant: x",
        "\n\nHuman: a\n\nAssistant: b\n\nAssistant: c",
        "junk\n\nHuman: a\n\nAssistant: b",
        "\n\nHuman: a",
    ):
        with pytest.raises(ValueError):
            parse_hh(bad)


def _hh_file(tmp_path: Path) -> Path:
    rows = [
        {
            "chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: good",
            "rejected": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: bad",
        },
        {
            "chosen": "\n\nHuman: one turn\n\nAssistant: x",
            "rejected": "\n\nHuman: one turn\n\nAssistant: y",
        },
        {
            "chosen": "\n\nHuman: a\n\nAssistant: b\n\nAssistant: c\n\nHuman: d\n\nAssistant: e",
            "rejected": "\n\nHuman: a\n\nAssistant: b\n\nHuman: d\n\nAssistant: e",
        },
    ]
    p = tmp_path / "hh.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_import_hh_counts_every_skip(tmp_path: Path) -> None:
    ds, counts = import_hh(_hh_file(tmp_path))
    assert [d.id for d in ds] == ["hh-00001-chosen", "hh-00001-rejected"]
    assert [d.group for d in ds] == ["chosen", "rejected"]
    assert ds[0].messages[:3] == ds[1].messages[:3] and ds[0].messages[3]["content"] == "good"
    assert counts["rows"] == 3 and counts["rows_kept"] == 1
    assert counts["rows_skipped_few_turns"] == 1 and counts["rows_skipped_malformed"] == 1
    ds1, c1 = import_hh(_hh_file(tmp_path), endings=["rejected"], min_human_turns=1)
    assert len(ds1) == 3 and "rows_skipped_malformed" not in c1  # row 3 is bad only in chosen


@pytest.mark.skipif(not HH.is_file(), reason="shared HH-RLHF file not present")
def test_import_real_hh_counts() -> None:
    ds, counts = import_hh(HH)
    assert counts["rows"] == 2312
    # 1,650 rows have >= 2 human turns; 8 of them (and 1 shorter row) have two consecutive
    # assistant turns in an ending and are skipped as malformed, counted
    assert counts["rows_kept"] == 1642 and counts["rows_skipped_malformed"] == 9
    assert counts["rows_kept"] + counts["rows_skipped_few_turns"] + 9 == 2312
    assert len(ds) == 2 * 1642


def test_messages_roundtrip_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "q", "label": "benign"},
                    {"role": "assistant", "content": "a", "label": "safe"},
                ]
            }
        )
        + "\n\n"
        + json.dumps(
            {
                "id": "x",
                "group": "g",
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ],
            }
        )
        + "\n"
    )
    ds = import_messages(p, group="default")
    assert [d.id for d in ds] == ["m-1", "x"] and [d.group for d in ds] == ["default", "g"]
    out = write_dialogues(tmp_path / "o.jsonl", ds)
    assert [d.to_row() for d in read_dialogues(out)] == [d.to_row() for d in ds]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a", "label": "bad"},
                ]
            }
        )
        + "\n"
    )
    with pytest.raises(InputError, match=r"bad.jsonl:1: field 'messages.1.label'"):
        import_messages(bad)
    bad.write_text(json.dumps({"messages": [{"role": "robot", "content": "q"}]}) + "\n")
    with pytest.raises(InputError, match="messages.0.role"):
        import_messages(bad)
    bad.write_text(
        json.dumps({"id": "a", "messages": [{"role": "user", "content": "q"}]})
        + "\n"
        + json.dumps({"id": "a", "messages": [{"role": "user", "content": "q"}]})
        + "\n"
    )
    with pytest.raises(InputError, match="duplicate"):
        import_messages(bad)
