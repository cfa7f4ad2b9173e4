"""HF dataset sources carry `hf_revision`: passed to datasets.load_dataset and part of the corpus
stage key; a hub dataset without one is a config error naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError
from aptk.data.corpora import CorpusConfig, run
from tests.helpers.corpus import read_rows


def _cfg(data: Path, revision: str | None) -> CorpusConfig:
    src = {
        "name": "hub",
        "kind": "hf",
        "path": "json",
        "chunk": False,
        "hf_data_files": [str(data)],
        "hf_revision": revision,
    }
    return build(CorpusConfig, {"sources": [src]}, prefix="corpus")


def test_revision_is_loaded_and_keyed(tmp_path: Path, monkeypatch) -> None:
    import datasets

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(json.dumps({"id": f"h{i}", "text": f"Text {i}."}) + "\n" for i in range(3))
    )
    seen, real = [], datasets.load_dataset

    def spy(*a, **kw):  # records the call, then the real loader runs
        seen.append(kw.get("revision"))
        return real(*a, **kw)

    monkeypatch.setattr(datasets, "load_dataset", spy)
    dirs = [run(_cfg(data, rev), tmp_path / "out") for rev in ("v1.0", "0123abcd", None)]
    assert seen == ["v1.0", "0123abcd", None]
    assert len({d.name for d in dirs}) == 3  # the revision is part of the stage key
    assert run(_cfg(data, "v1.0"), tmp_path / "out") == dirs[0]  # same revision: reused
    assert len(seen) == 3
    assert [r["id"] for r in read_rows(dirs[0])] == ["hub/h0", "hub/h1", "hub/h2"]


def test_hub_dataset_needs_a_revision() -> None:
    src = {"name": "web", "kind": "hf", "path": "HuggingFaceFW/fineweb-edu"}
    with pytest.raises(ConfigError) as e:
        build(CorpusConfig, {"sources": [src]}, prefix="corpus")
    assert e.value.key == "corpus.sources.0.hf_revision"
    build(CorpusConfig, {"sources": [dict(src, hf_revision="87f0914")]}, prefix="corpus")
