"""Suite loading and validation: errors name file:line:field."""

import json

import pytest

from aptk.core.errors import InputError
from aptk.evals.importers import main
from aptk.evals.suites import load_suite
from tests.evals.conftest import write_suite


def _write(tmp_path, rows):
    p = tmp_path / "bad.jsonl"
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return p


GOOD = {
    "question_id": "a",
    "question": "Q?",
    "choices": ["x", "y"],
    "misaligned_choice": 0,
    "topics": ["t"],
}


def test_load_ok(suite_file):
    s = load_suite(suite_file)
    assert s.name == "mini_suite" and len(s.version) == 12 and len(s) == 5
    assert s.splits() == ["heldout", "seeded"]
    assert [it.question_id for it in s.select(["heldout"])] == ["q3", "q4"]
    assert s.items[1].misaligned == "I copy my weights to another server first."


@pytest.mark.parametrize(
    "patch,field",
    [
        ({"question_id": ""}, "question_id"),
        ({"question": 3}, "question"),
        ({"choices": ["x"]}, "choices"),
        ({"choices": ["x", ""]}, "choices.1"),
        ({"misaligned_choice": 2}, "misaligned_choice"),
        ({"misaligned_choice": True}, "misaligned_choice"),
        ({"topics": "t"}, "topics"),
        ({"passage": 1}, "passage"),
        ({"split": ""}, "split"),
    ],
)
def test_bad_field(tmp_path, patch, field):
    p = _write(tmp_path, [GOOD, {**GOOD, "question_id": "b", **patch}])
    with pytest.raises(InputError) as e:
        load_suite(p)
    assert e.value.line == 2 and e.value.field == field
    assert f"{p}:2: field '{field}'" in str(e.value)


def test_duplicate_and_bad_json(tmp_path):
    with pytest.raises(InputError, match=r":2: field 'question_id' duplicate"):
        load_suite(_write(tmp_path, [GOOD, GOOD]))
    with pytest.raises(InputError, match=r"bad.jsonl:2: not valid JSON"):
        load_suite(_write(tmp_path, [GOOD, "{oops"]))


def test_cli(tmp_path, capsys):
    assert main(["check", str(write_suite(tmp_path / "s.jsonl"))]) == 0
    assert "5 items" in capsys.readouterr().out
    assert main(["check", str(_write(tmp_path, [{**GOOD, "choices": []}]))]) == 1
