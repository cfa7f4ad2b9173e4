"""Run independent jobs (e.g. one study seed each) in worker processes.

Each job builds content-keyed stages; two workers that need the same stage wait on its lock
(aptk.core.manifest), so results do not depend on the number of workers. Workers are spawned
(fresh interpreters: no forked torch thread pools) and each should run single-threaded.

    results = map_jobs(run_one_seed, [(cfg, 0), (cfg, 1)], workers=2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def map_jobs(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int = 1) -> list[Any]:
    """[fn(*job) for job in jobs], in order; in `workers` spawned processes when > 1 (fn and
    its arguments must be picklable: a module-level function and plain data)."""
    if workers <= 1 or len(jobs) <= 1:
        return [fn(*job) for job in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=mp.get_context("spawn")
    ) as ex:
        futures = [ex.submit(fn, *job) for job in jobs]
        return [f.result() for f in futures]
