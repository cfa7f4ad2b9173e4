"""The shared core: atomic writes, strict configs, stage caching and manifests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from aptk.core import InputError, Stage, atomic_write_text, derive_seed, read_jsonl
from aptk.core.config import build, check
from aptk.core.errors import ConfigError
from aptk.core.manifest import artifact_key


@dataclass
class Inner:
    share: float = 0.5

    def validate(self, prefix: str) -> None:
        check(0 <= self.share <= 1, prefix, "share", f"must be in [0, 1], got {self.share}")


@dataclass
class Outer:
    name: str = "x"
    items: list[Inner] = field(default_factory=list)


def test_build_names_the_bad_key() -> None:
    with pytest.raises(ConfigError, match=r"items\.1\.share"):
        build(Outer, {"items": [{"share": 0.2}, {"share": 1.5}]})
    with pytest.raises(ConfigError, match=r"unknown key"):
        build(Outer, {"nme": "typo"})
    with pytest.raises(ConfigError, match=r"items\.0\.share.*number"):
        build(Outer, {"items": [{"share": "lots"}]})
    assert build(Outer, {"items": [{"share": 1}]}).items[0].share == 1.0


def test_jsonl_errors_name_file_and_line(tmp_path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2\n')
    with pytest.raises(InputError, match=r"x\.jsonl:3"):
        read_jsonl(p)


def test_atomic_write_leaves_no_temp_files(tmp_path) -> None:
    atomic_write_text(tmp_path / "a.txt", "hello")
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]


def test_derive_seed_is_stable() -> None:
    # fixed value: must not change across processes or Python versions (no salted hash())
    assert derive_seed(0, "synth", "x-001", 3) == derive_seed(0, "synth", "x-001", 3)
    assert derive_seed(0, "synth") != derive_seed(1, "synth")
    assert derive_seed("a") == 529978260370350907


def test_stage_key_depends_on_config_and_parents(tmp_path) -> None:
    a = Stage("a", {"k": 1}, root=tmp_path)
    (a.dir / "out.txt").write_text("x")
    a.finish(counts={"n": 1}, files=["out.txt"])
    m = json.loads((a.dir / "manifest.json").read_text())
    assert m["files"]["out.txt"] and m["counts"] == {"n": 1} and m["key"] == a.key
    assert Stage("a", {"k": 1}, root=tmp_path).done
    assert not Stage("a", {"k": 2}, root=tmp_path).done
    (a.dir / "sub").mkdir()
    b1 = Stage("b", {}, parents={"in": a.dir}, root=tmp_path)
    b2 = Stage("b", {}, parents={"in": a.dir / "sub"}, root=tmp_path)
    assert b1.key != b2.key
    assert artifact_key(a.dir / "sub") == a.key + "/sub"


def test_added_field_leaves_the_key_until_set(tmp_path) -> None:
    """aptk.core.stage.added_field: a field added to a config after keys were published is not in
    the key while it holds its default (the stage opens the dir it opened before the field
    existed) and is keyed once set; runtime fields stay out either way."""
    from aptk.core.stage import added_field, key_config, open_stage, runtime_field

    @dataclass
    class Old:
        a: int = 1

    @dataclass
    class New:
        a: int = 1
        tags: list = added_field(default_factory=list)
        mode: str = added_field("x")
        workers: int = runtime_field(2)

    assert key_config(New()) == key_config(Old()) == {"a": 1}
    assert key_config(New(tags=["t"], mode="y")) == {"a": 1, "tags": ["t"], "mode": "y"}
    old = open_stage("s", Old(), root=tmp_path)
    assert open_stage("s", New(workers=5), root=tmp_path).dir == old.dir
    assert open_stage("s", New(mode="y"), root=tmp_path).dir != old.dir


def test_concurrent_builders_of_one_stage_build_it_once(tmp_path) -> None:
    """Two processes asking for the same stage: the second waits for the first, then reuses it."""
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from aptk.core import Stage\n"
        "st = Stage('s', {'k': 1}, root=sys.argv[1])\n"
        "if not st.done:\n"
        "    time.sleep(1.0)\n"
        "    (st.dir / 'built_by.txt').open('a').write(sys.argv[2] + '\\n')\n"
        "    st.finish()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(i)]) for i in range(3)
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    d = next((tmp_path / "s").iterdir())
    assert len((d / "built_by.txt").read_text().split()) == 1
