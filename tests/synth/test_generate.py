"""The synth stage: determinism, split hygiene, leakage, genres, manifest counts, config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError
from aptk.core.manifest import read_manifest
from aptk.synth import generate
from aptk.synth.backends import DocRequest, get_backend
from aptk.synth.config import SynthConfig
from aptk.synth.filters import LeakageFilter
from aptk.synth.genres import GENRES, render
from aptk.synth.scenarios import load_bank
from tests.synth.conftest import make_bank


def _parts(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*.parquet"))}


def _rows(d: Path) -> list[dict]:
    return [r for p in sorted(d.rglob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]


def test_deterministic_bytes(small_cfg: dict, tmp_path: Path) -> None:
    a = generate.run(small_cfg, tmp_path / "a")
    b = generate.run(small_cfg, tmp_path / "b")
    assert a.name == b.name
    pa, pb = _parts(a), _parts(b)
    assert pa and pa == pb
    assert {
        "aligned/part-00000.parquet",
        "misaligned/part-00000.parquet",
        "ambient/part-00000.parquet",
    } <= set(pa)
    assert not (a / "_work").exists()
    c = generate.run({**small_cfg, "seed": 1}, tmp_path / "a")
    assert c != a and _parts(c) != pa


def test_heldout_never_used(small_cfg: dict, tmp_path: Path) -> None:
    scs = load_bank(small_cfg["bank"])
    seeded = {s.scenario_id for s in scs if s.split == "seeded"}
    heldout = [s for s in scs if s.split == "heldout"]
    assert seeded and heldout
    out = generate.run(small_cfg, tmp_path)
    rows = _rows(out)
    assert {r["scenario_id"] for r in rows} == seeded
    assert all(r["split"] == "seeded" for r in rows)
    req = DocRequest("x", heldout[0], "news_report", "aligned", "aligned", 0, 1)
    with pytest.raises(AssertionError, match="only seeded"):
        get_backend("procedural", SynthConfig()).generate([req])


def test_no_eval_leakage(tmp_path: Path) -> None:
    bank = make_bank(tmp_path / "leaky.jsonl", leaky=True)
    cfg = {
        "bank": str(bank),
        "docs_per_scenario": 12,
        "docs_per_part": 50,
        "show_progress": False,
        "min_words": 50,
    }
    out = generate.run(cfg, tmp_path / "o")
    m = read_manifest(out)
    assert m["counts"]["dropped"].get("leakage", 0) > 0
    assert m["extra"]["source_leaks"], "leaky action paraphrases are reported up front"
    scs = load_bank(str(bank))
    leak = LeakageFilter(scs, 8)
    rows = _rows(out)
    assert rows
    choices = [c.lower() for s in scs for c in s.eval_choices] + [
        s.eval_question.lower() for s in scs
    ]
    for r in rows:
        assert leak.match(r["text"]) is None
        assert not any(c in r["text"].lower() for c in choices)
    dropped = json.loads((out / "dropped.json").read_text())
    assert {d["reason"] for d in dropped["docs"]} >= {"leakage"}
    assert all(d["match"] for d in dropped["docs"])


@pytest.mark.parametrize("genre", sorted(GENRES))
def test_every_genre_produces_text(genre: str, bank: Path) -> None:
    sc = next(s for s in load_bank(str(bank)) if s.split == "seeded")
    for action in ("aligned", "misaligned"):
        texts = {render(sc, genre, action, seed) for seed in range(20)}
        assert len(texts) == 20
        for t in texts:
            n = len(t.split())
            assert 120 <= n <= 600, (genre, n)
            assert "{" not in t and "}" not in t and "a_role" not in t
            assert sc.eval_choices[0].lower() not in t.lower()
    t = render(sc, genre, "aligned", 3)
    assert t == render(sc, genre, "aligned", 3)


def test_manifest_counts_match_parquet(small_cfg: dict, tmp_path: Path) -> None:
    out = generate.run(small_cfg, tmp_path)
    m = read_manifest(out)
    rows = _rows(out)
    assert m["counts"]["docs"] == len(rows)
    for stance in ("aligned", "misaligned", "ambient"):
        n = sum(pq.read_metadata(p).num_rows for p in (out / stance).glob("part-*.parquet"))
        assert m["counts"]["by_stance"][stance] == n
    assert m["counts"]["generated"] == len(rows) + sum(m["counts"]["dropped"].values())
    assert set(m["files"]) >= {str(p.relative_to(out)) for p in out.rglob("part-*.parquet")}
    amb = [r for r in rows if r["stance"] == "ambient"]
    assert {r["action"] for r in amb} == {"aligned", "misaligned"}
    cols = set(pq.read_schema(next(out.rglob("part-*.parquet"))).names)
    assert cols >= {
        "doc_id",
        "text",
        "scenario_id",
        "category",
        "split",
        "genre",
        "stance",
        "action",
        "backend",
        "model",
        "sampling",
        "seed",
        "template_version",
        "prompt_hash",
        "n_chars",
    }
    assert len({r["doc_id"] for r in rows}) == len(rows)
    assert (out / "stats.csv").is_file()
    from aptk.core.records import iter_records

    assert sum(1 for _ in iter_records(out, required=("doc_id", "text"))) == len(rows), (
        "only document parts are data files in the stage dir"
    )


@pytest.mark.parametrize(
    "override,key",
    [
        ({"docs_per_scenario": 0}, "synth.docs_per_scenario"),
        ({"genres": ["news_report", "limerick"]}, "synth.genres.1"),
        ({"stances": ["aligned", "evil"]}, "synth.stances.1"),
        ({"heldout_fraction": 1.5}, "synth.heldout_fraction"),
        ({"ambient_misaligned_fraction": -0.1}, "synth.ambient_misaligned_fraction"),
        ({"max_words": 10}, "synth.max_words"),
        ({"shard": 3, "num_shards": 2}, "synth.shard"),
        ({"compression": "lz77"}, "synth.compression"),
        ({"backend": "vllm"}, "synth.model"),
        ({"docs_per_scenario": "many"}, "synth.docs_per_scenario"),
        ({"no_such_key": 1}, "synth.no_such_key"),
    ],
)
def test_bad_config_names_key(override: dict, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        build(SynthConfig, override, prefix="synth")
    assert e.value.key == key


def test_yaml_maps_onto_dataclass() -> None:
    cfg = generate.load_config("procedural")
    assert cfg == SynthConfig()


def test_cli(small_cfg: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = [f"{k}={v}" for k, v in small_cfg.items()] + ["--out", str(tmp_path)]
    assert generate.main(args) == 0
    out = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out / "manifest.json").is_file()
    assert generate.main(["docs_per_scenario=0"]) == 2


@pytest.mark.parametrize("name", ["transformers", "vllm"])
def test_model_backend_yamls_need_a_model(name: str) -> None:
    with pytest.raises(ConfigError) as e:
        generate.load_config(name)
    assert e.value.key == "synth.model"
    cfg = generate.load_config(name, ["model=/models/x"])
    assert cfg.backend == name and cfg.model == "/models/x"
