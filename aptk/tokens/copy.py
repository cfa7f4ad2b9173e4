"""Write a mix's training stream by copying token ranges: no tokenizer call per document.

The mix stage (aptk.data.mix) writes `plan.npz` (per training-order document: source number,
document number, cut) and names each source's token shard (stage "token_index": the source's
documents tokenized once, ids + EOS, in corpus order). The shards stage calls `copy_plan`, which
copies each document's range (a truncated one: its first cut - 1 ids, then EOS) out of the
source shards into the shard writer's files, cutting a new file after the document that crosses
`max_tokens_per_file` exactly as tokenizing would. The result is the byte stream tokenizing the
mixed texts gives (docs/token_mix.md: the one possible exception is a truncated document whose
decoded text re-encodes to other ids).

How it is fast and small (docs/token_mix.md, "Mixer throughput"):
- the gather is one compiled loop (numba, `_gather`) calling pread(2) per document straight
  into a buffer: no Python per document. pread, not mmap: fault-around maps far more of a
  source than a random read touches and every mapped page counts in the resident set (an mmap
  gather reached ru_maxrss 2.2 GB on a 2 GB source, MADV_RANDOM + MADV_DONTNEED per block did
  not bound it);
- a few fixed buffers (`depth` x `buf_tokens`) rotate between the gather (this thread), one
  writer thread that writes each full buffer and one hash thread that feeds it, in write order,
  to the file's sha256 (the manifest fingerprint, so the stage never reads its 2 GB back); a
  buffer is reused once both are done. All three release the GIL, so the gather, the write and
  the hash of consecutive buffers overlap (write and hash on one thread were the critical path:
  1.2 + 1.3 s vs 1.3 s of gather per 2 GB). Resident set: the buffers + the plan arrays;
- with `direct` (ShardsConfig.direct_io, the default) whole 4 KiB blocks are written with
  O_DIRECT (`_DirectFile`): on the VM measured, page-cache writes of new pages were 5-10x
  slower than O_DIRECT. Same bytes either way.

    python -m aptk.tokens.shards --corpus MIX_DIR --tokenizer DIR --out ROOT
"""

from __future__ import annotations

import errno
import mmap
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
from numba import types

from aptk.core.io import AtomicStream
from aptk.core.manifest import read_manifest

ALIGN = 4096  # O_DIRECT block: buffer address, file offset and length multiples of this

# ssize_t pread(int fd, void *buf, size_t count, off_t offset), resolved from the C library
# already loaded in the process (pointer and sizes passed as intp: same ABI on 64-bit Linux)
_pread_c = types.ExternalFunction(
    "pread", types.intp(types.intc, types.intp, types.intp, types.int64)
)


@numba.njit(cache=True, nogil=True)
def _gather(fds, ts, src, starts, lens, trunc, eos, buf, p, i, end):  # pragma: no cover
    """Copy documents i, i+1, ... (< end) into buf from token position p while they fit:
    document k is tokens [starts[k], starts[k] + lens[k]) of the file open as fds[src[k]]
    (token size ts bytes), or when trunc[k] its first lens[k] - 1 tokens then `eos`. Returns
    (next document, tokens in buf, failed): failed = 1 when a pread returned <= 0 for
    document `next` (an error, EINTR or a short source: the caller redoes that document with
    os.preadv, which retries EINTR and raises on anything else)."""
    base = np.intp(buf.ctypes.data)
    cap = buf.size
    while i < end:
        n = lens[i]
        if p + n > cap:
            break
        k = n - 1 if trunc[i] else n
        want = k * ts
        done = 0
        while done < want:
            got = _pread_c(fds[src[i]], base + (p * ts + done), want - done, starts[i] * ts + done)
            if got <= 0:
                return i, p, 1
            done += got
        if trunc[i]:
            buf[p + n - 1] = eos
        p += n
        i += 1
    return i, p, 0


def _source_map(d: Path, tokenizer_key: str) -> tuple[Path, int, np.ndarray, np.ndarray]:
    """(token file, token size, start and length of each document) of one token_index dir."""
    m = read_manifest(d)
    if m.get("stage") != "token_index" or m["parents"]["tokenizer"]["key"] != tokenizer_key:
        raise ValueError(f"{d}: not a token_index stage of tokenizer {tokenizer_key}")
    size = int((d / "00000.ds.metadata").read_text().split("\n")[0].rsplit("|", 1)[1])
    ends = np.fromfile(d / "00000.ds.index", dtype="<u8").astype(np.int64)
    return (
        d / "00000.ds",
        size,
        np.concatenate([[0], ends[:-1]]).astype(np.int64),
        ends - np.concatenate([[0], ends[:-1]]),
    )


def copy_plan(
    mix_dir: Path, tokenizer_dir: Path, writer, eos_id: int, direct: bool = False
) -> None:
    """Copy the mix's planned documents into `writer` (aptk.tokens.shards.ShardWriter);
    `direct`: write the .ds files with O_DIRECT (_DirectFile)."""
    man = read_manifest(mix_dir)
    names = [s["name"] for s in man["config"]["cfg"]["sources"]]
    tok_key = read_manifest(tokenizer_dir)["key"]
    if man["parents"]["tokenizer"]["key"] != tok_key:
        raise ValueError(f"{mix_dir}: mixed under another tokenizer than {tokenizer_dir}")
    root = mix_dir.parent.parent / "token_index"
    maps = [_source_map(root / man["extra"]["token_sources"][n], tok_key) for n in names]
    z = np.load(mix_dir / "plan.npz")
    src, doc, cut = z["src"], z["doc"], z["cut"]
    starts = np.empty(len(src), np.int64)
    lens = np.empty(len(src), np.int64)
    if {size for _, size, _, _ in maps} != {writer.token_size}:
        raise ValueError(f"{mix_dir}: source token sizes differ from {writer.token_size}")
    for si, (_f, _size, st, ln) in enumerate(maps):
        m = src == si
        starts[m], lens[m] = st[doc[m]], ln[doc[m]]
    out_len = np.where(cut > 0, cut, lens)
    fds = [os.open(f, os.O_RDONLY) for f, _, _, _ in maps]
    try:
        copy_docs(writer, fds, src, starts, out_len, cut > 0, eos_id, direct=direct)
    finally:
        for fd in fds:
            os.close(fd)


def copy_docs(
    self,  # aptk.tokens.shards.ShardWriter (its open file, ends and count)
    fds: list[int],
    src: np.ndarray,
    starts: np.ndarray,
    lens: np.ndarray,
    trunc: np.ndarray,
    eos: int,
    buf_tokens: int = 1 << 22,
    depth: int = 3,
    direct: bool = False,
) -> None:
    """Documents as token ranges of source files (tokens [start, start+len) of the file
    open as fds[src], same token size; a truncated one is its first len - 1 tokens then
    `eos`), gathered into `depth` rotating page-aligned buffers of `buf_tokens` (a document
    longer than a buffer gets its own), written by a writer thread and hashed by a hash thread
    (each in order); files are
    cut exactly as `add` cuts them (after the document that crosses max_tokens). `direct`:
    each buffer's whole 4 KiB blocks are written with O_DIRECT and the rest carried to the
    front of the next buffer (a file's last partial block goes through the page cache)."""
    ts = self.dtype.itemsize
    align = ALIGN // ts if direct else 1  # tokens per block written at once
    fd_arr = np.asarray(fds, dtype=np.int32)
    src = np.ascontiguousarray(src, dtype=np.int32)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lens = np.ascontiguousarray(lens, dtype=np.int64)
    trunc = np.ascontiguousarray(trunc, dtype=np.bool_)
    eos_t = self.dtype.type(eos)
    free = [_aligned_empty(buf_tokens, self.dtype) for _ in range(depth)]
    pending: deque[tuple[tuple[Future, Future], np.ndarray | None]] = deque()

    def drain(keep: int) -> None:
        while len(pending) > keep:
            futs, arr = pending.popleft()
            for fut in futs:
                fut.result()  # re-raises a write error here
            if arr is not None:
                free.append(arr)

    def submit(out: AtomicStream, data: memoryview, arr: np.ndarray | None, aligned: bool) -> None:
        """Write `data` on the writer thread and hash it on the hash thread (each in order)."""
        put = ex.submit(out.put, data, True) if aligned else ex.submit(out.put, data)
        pending.append(((put, hx.submit(out.sha256.update, data)), arr))

    def fill(buf: np.ndarray, p: int, i: int, end: int) -> tuple[int, int]:
        """Gather documents from i into buf from position p (compiled); a document whose
        pread failed is redone in Python (raises unless it was transient, e.g. EINTR)."""
        k = i
        while True:
            k, p, failed = _gather(fd_arr, ts, src, starts, lens, trunc, eos_t, buf, p, k, end)
            if not failed:
                return k, p
            n, t = int(lens[k]), int(trunc[k])
            _pread(fds[src[k]], buf[p : p + n - t], int(starts[k]) * ts)
            if t:
                buf[p + n - 1] = eos_t
            k, p = k + 1, p + n

    i, n_docs = 0, len(src)
    with (
        ThreadPoolExecutor(1, thread_name_prefix="shard-write") as ex,
        ThreadPoolExecutor(1, thread_name_prefix="shard-hash") as hx,
    ):
        try:
            while i < n_docs:
                first = i
                cum = np.cumsum(lens[i:]) + self._n
                j = int(np.searchsorted(cum, self.max_tokens, side="left"))  # closes after i+j
                b = min(i + j + 1, n_docs)
                self.open_file(_DirectFile if direct else AtomicStream)
                out = self._f
                tail = np.zeros(0, self.dtype)  # < align tokens not yet written
                while i < b:
                    c = len(tail)
                    if c + int(lens[i]) > buf_tokens:  # document i alone exceeds a buffer
                        buf, recycle = _aligned_empty(c + int(lens[i]), self.dtype), False
                        buf[:c] = tail
                        k, p = fill(buf, c, i, i + 1)
                    else:
                        while not free:  # every buffer in flight: wait for the oldest write
                            drain(len(pending) - 1)
                        buf, recycle = free.pop(), True
                        buf[:c] = tail
                        k, p = fill(buf, c, i, b)
                    whole = p - p % align
                    tail = buf[whole:p].copy()
                    if whole:
                        w = memoryview(buf[:whole]).cast("B")
                        submit(out, w, buf if recycle else None, direct)
                    elif recycle:
                        free.append(buf)
                    i = k
                if len(tail):
                    submit(out, memoryview(tail).cast("B"), None, False)
                drain(0)  # every buffer of this file written before the file is closed
                self._ends.extend(cum[: b - first].tolist())
                self._n = int(cum[b - first - 1])
                if self._n >= self.max_tokens:
                    self.close_file()
        finally:
            drain_quiet(pending)


def _aligned_empty(n: int, dtype: np.dtype) -> np.ndarray:
    """An uninitialised array starting on a page boundary (anonymous mmap): O_DIRECT needs it."""
    mm = mmap.mmap(-1, max(n * np.dtype(dtype).itemsize, 1))
    return np.frombuffer(mm, dtype=dtype, count=n)


class _DirectFile(AtomicStream):
    """An AtomicStream (temp file beside `path`, fsync + rename on commit; `write` also hashes,
    `put` only writes) whose aligned writes (`put(data, True)`: whole 4 KiB blocks from a
    page-aligned buffer) go through a second descriptor opened with O_DIRECT, bypassing the page
    cache: on the VM this was measured on, buffered writes of new pages ran at 0.1-0.2 GB/s
    (kernel time allocating page cache), O_DIRECT at ~1.8 GB/s. Other writes, and every write
    when O_DIRECT is refused (EINVAL: tmpfs on older kernels, other block sizes), go through the
    page cache (positioned writes on the stream's own descriptor). Same bytes and sha256 either
    way."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pos = 0
        try:
            self.dfd: int | None = os.open(self.tmp, os.O_WRONLY | os.O_DIRECT)
        except (OSError, AttributeError):
            self.dfd = None

    def put(self, data, aligned: bool = False) -> None:
        mv = memoryview(data).cast("B")
        buffered = self.f.fileno()
        fd = self.dfd if aligned and self.dfd is not None else buffered
        done = 0
        while done < len(mv):
            try:
                n = os.pwrite(fd, mv[done:], self.pos + done)
            except OSError as e:
                if fd != self.dfd or e.errno != errno.EINVAL:
                    raise
                self._close_direct()
                fd = buffered  # O_DIRECT refused: the page cache
                continue
            done += n
            if n % ALIGN:
                fd = buffered  # a partial write: the rest is not block-aligned
        self.pos += len(mv)

    def _close_direct(self) -> None:
        if self.dfd is not None:
            os.close(self.dfd)
            self.dfd = None

    def commit(self) -> None:
        self._close_direct()
        super().commit()

    def abort(self) -> None:
        self._close_direct()
        super().abort()


def drain_quiet(pending: deque) -> None:
    """Wait for outstanding writes (after an error: their own errors are secondary)."""
    while pending:
        futs, _ = pending.popleft()
        for fut in futs:
            try:
                fut.result()
            except Exception:  # noqa: BLE001, S110 (the first error is already propagating)
                pass


def _pread(fd: int, out: np.ndarray, offset: int) -> None:
    """Fill `out` from fd at byte `offset` (raises on a short read: a truncated source)."""
    got = os.preadv(fd, [out], offset)
    if got != out.nbytes:
        raise ValueError(f"short read: {got} of {out.nbytes} bytes at {offset}")
