"""Stage.finish(digests=...): digests a stage computed while writing are recorded as given
(the same fingerprints re-reading the files gives); names outside `files` or missing files
are refused."""

from __future__ import annotations

import hashlib

import pytest

from aptk.core import Stage
from aptk.core.hashing import sha256_file


def _stage(tmp_path, name: str) -> Stage:
    st = Stage(name, {"v": 1}, root=tmp_path)
    (st.dir / "a.bin").write_bytes(b"a" * 5000)
    (st.dir / "b.txt").write_text("bee")
    return st


def test_given_digests_recorded_as_read_ones(tmp_path) -> None:
    plain = _stage(tmp_path, "plain").finish(files=["a.bin", "b.txt"])
    st = _stage(tmp_path, "given")
    given = {"a.bin": hashlib.sha256(b"a" * 5000).hexdigest()}
    m = st.finish(files=["a.bin", "b.txt"], digests=given)
    assert m["files"] == plain["files"]
    assert m["files"]["a.bin"] == sha256_file(st.dir / "a.bin")


def test_given_digest_is_trusted_not_reread(tmp_path) -> None:
    """The digest is recorded as given (documented: the caller hashed what it wrote)."""
    st = _stage(tmp_path, "trusted")
    fake = "0" * 64
    assert st.finish(files=["a.bin"], digests={"a.bin": fake})["files"]["a.bin"] == fake


@pytest.mark.parametrize(
    ("files", "digests", "err"),
    [
        (["a.bin"], {"b.txt": "0" * 64}, ValueError),  # not in files
        (["a.bin", "c.bin"], {"c.bin": "0" * 64}, FileNotFoundError),  # no such file
        (["a.bin"], {"a.bin": "xyz"}, ValueError),  # not a sha256 hex
    ],
)
def test_bad_digests_refused(tmp_path, files, digests, err) -> None:
    st = _stage(tmp_path, "bad")
    with pytest.raises(err):
        st.finish(files=files, digests=digests)
    assert not st.done
