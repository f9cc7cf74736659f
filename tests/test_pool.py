"""The extraction pool: tasks go to worker processes and come back through the event loop."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading

import pytest

from crawlers.workers import server as workers
from crawlers.workers.pool import AHEAD, MAX_DEATHS_IN_ROW, PIPE_BYTES, LoopPool, WorkerDied


def _nothing() -> None:
    pass


def _cannot_start() -> None:
    raise SystemExit(3)  # as a worker whose imports fail would


def _fails(text: str) -> int:
    return int(text)


def _refuse() -> None:
    raise ValueError("cannot be rebuilt here")


class _Unreadable:
    """Pickles in the worker; unpickling it in the parent raises."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_refuse, ())


def _unreadable() -> _Unreadable:
    return _Unreadable()


async def _run(
    size: int, *tasks: tuple[object, ...], initializer: object = _nothing, doomed: bool = False
) -> tuple[list[object], int, LoopPool]:
    """Each task's result or error, the threads the pool added, and the pool (shut down);
    ``doomed``: the workers keep dying, the pool is watched until it gives up, and one more
    task is then given to it, its outcome last in the results."""
    pool = LoopPool(size, workers._context(), initializer)  # type: ignore[arg-type]
    threads = threading.active_count()
    try:
        results = await asyncio.gather(
            *(pool.submit(task[0], *task[1:]) for task in tasks),  # type: ignore[arg-type]
            return_exceptions=True,
        )
        added = threading.active_count() - threads
        for _ in range(600 if doomed else 0):  # replacements go on in the loop: until the
            if not pool.workers:  # pool gives up, or half a minute if it never does
                break
            await asyncio.sleep(0.05)
        if doomed:
            late = await asyncio.gather(pool.submit(os.getpid), return_exceptions=True)
            results = [*results, *late]
        return results, added, pool
    finally:
        pool.shutdown()


def test_tasks_run_in_the_workers_and_their_errors_come_back() -> None:
    results, _, _ = asyncio.run(_run(2, *[(os.getpid,)] * 6, (_fails, "x")))
    pids, error = results[:6], results[6]
    assert os.getpid() not in pids and 1 <= len(set(pids)) <= 2
    assert isinstance(error, ValueError)  # raised in a worker, raised again here


def test_an_answer_that_cannot_be_read_fails_its_task_alone() -> None:
    results, _, _ = asyncio.run(_run(1, (_unreadable,), (os.getpid,)))
    assert isinstance(results[0], RuntimeError) and "unreadable answer" in str(results[0])
    assert isinstance(results[1], int)  # the worker and the pool go on


def test_the_pool_feeds_its_workers_without_threads() -> None:
    _, new_threads, _ = asyncio.run(_run(2, *[(os.getpid,)] * 8))
    assert new_threads == 0


def test_a_worker_holds_pages_ahead_and_room_for_its_answers_while_the_loop_is_busy() -> None:
    """The loop stores articles between reads, which takes a while: a worker must have
    its next pages already and be able to write its answers meanwhile."""

    async def given() -> tuple[int, int]:
        pool = LoopPool(1, workers._context(), _nothing)  # type: ignore[arg-type]
        try:
            futures = [pool.submit(os.getpid) for _ in range(AHEAD + 2)]
            held = len(pool.workers[0].held)  # before the loop has read any answer
            room = fcntl.fcntl(pool.workers[0]._results.fileno(), fcntl.F_GETPIPE_SZ)
            await asyncio.gather(*futures)
            return held, room
        finally:
            pool.shutdown()

    held, room = asyncio.run(given())
    assert AHEAD >= 3 and held == AHEAD
    assert room >= PIPE_BYTES


def test_workers_that_cannot_start_fail_the_tasks_instead_of_being_restarted_forever() -> None:
    tasks = [(os.getpid,), (os.getpid,)]
    results, _, pool = asyncio.run(_run(1, *tasks, initializer=_cannot_start, doomed=True))
    *given, late = results
    assert all(isinstance(result, WorkerDied) for result in given)
    assert pool.workers == [] and len(pool._dead) == MAX_DEATHS_IN_ROW + 1
    assert isinstance(late, WorkerDied)  # given up: a task fails at once, never waits


@pytest.fixture(autouse=True)
def _no_pool_left() -> None:
    workers.shutdown()
