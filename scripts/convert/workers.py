"""Camera jobs in worker processes: real parallelism on top of the data writer.

Why processes, not threads: per-episode work is many small numpy/PyAV calls that hold the
GIL, so threads barely overlap. Workers are spawned (not forked: the parent runs tqdm
threads), report per-episode progress through a queue, and ask the kernel to kill them when
the parent dies (``PR_SET_PDEATHSIG``), so a SIGKILLed conversion never leaves a worker
writing into a temp directory that the next run is cleaning up.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.convert import fingerprint, killpoints
from scripts.convert.killpoints import hook
from scripts.convert.nopandas import block_pandas

if TYPE_CHECKING:  # imported by the tasks themselves: a pool starts before PyAV is loaded
    from scripts.convert.video import CameraEpisode, CameraResult, DepthParams

_QUEUE: Any = None
_NEXT_SHARD: Any = None  # shared counter: the next stats shard to claim
_ABORT: Any = None  # shared flag: the parent failed, stop at the next episode
_PR_SET_PDEATHSIG = 1


def _init(queue: Any, next_shard: Any, abort: Any) -> None:
    global _QUEUE, _NEXT_SHARD, _ABORT
    _QUEUE = queue
    _NEXT_SHARD = next_shard
    _ABORT = abort
    block_pandas()
    killpoints.IN_WORKER = True
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux: workers still exit when the pool's pipe closes
    if os.getppid() == 1:  # parent already gone
        os._exit(1)
    import av

    av.logging.set_level(av.logging.PANIC)


class Aborted(Exception):
    """The parent gave up (an error elsewhere): this worker stops writing at once."""


_PENDING: dict[str, int] = {}
_LAST_SENT = [0.0]
REPORT_EVERY_S = 0.2  # a message per episode would cost the parent's GIL more than the bars need


def _report(kind: str, n: int) -> None:
    """Per-episode progress; also where a worker notices that the parent has given up.

    Counts are sent to the parent at most every ``REPORT_EVERY_S`` (and when a task ends).
    """
    if _ABORT is not None and _ABORT.value:
        raise Aborted
    _PENDING[kind] = _PENDING.get(kind, 0) + n
    now = time.monotonic()
    if now - _LAST_SENT[0] >= REPORT_EVERY_S:
        _flush_reports()
        _LAST_SENT[0] = now


def _flush_reports() -> None:
    if _QUEUE is not None:
        for kind, count in _PENDING.items():
            if count:
                _QUEUE.put((kind, count))
    _PENDING.clear()


def camera_task(
    key: str,
    episodes: list[CameraEpisode],
    dst: Path,
    video_mb: float,
    chunks_size: int,
    fps: int,
    reencode: bool,
    progress: Callable[[int], None] | None = None,
) -> CameraResult:
    """Copy one camera's episodes into its v3.0 files (in a worker, or in the parent)."""
    from scripts.convert.video import convert_camera

    result = convert_camera(
        key,
        episodes,
        dst,
        video_mb,
        chunks_size,
        fps,
        reencode,
        progress=progress or (lambda n: _report("videos", n)),
    )
    _flush_reports()
    hook("mid-video")
    return result


def stats_task(
    key: str,
    episodes: list[CameraEpisode],
    depth: DepthParams | None,
    spool: Path,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Image stats of one shard of a camera's episodes (in a worker, or in the parent)."""
    from scripts.convert.video import camera_stats

    return camera_stats(
        key, episodes, depth, spool, progress=progress or (lambda n: _report("stats", n))
    )


def warm() -> None:
    """Import what the tasks need, while the parent is still busy with its own start."""
    import scripts.convert.pipeline  # noqa: F401  (imports video, data, verify)


def claim(counter: Any) -> int:
    """Take the next shard number (each is handed out once, to whoever asks first)."""
    with counter.get_lock():
        value = counter.value
        counter.value = value + 1
    return value


COPY, STATS = "videos", "stats"  # task kinds (also the progress bar each one advances)
HASH = "hash"  # SRC's fingerprint, when nothing needs it before the end (a new DST)
Task = tuple[str, tuple]


def run_task(task: Task, progress: Callable[[str, int], None] | None = None) -> Any:
    """One claimable task: a camera's copy (returns its CameraResult), a stats shard, or
    SRC's fingerprint."""
    kind, args = task
    tick = (lambda n: progress(kind, n)) if progress else None
    if kind == COPY:
        return camera_task(*args, progress=tick)
    if kind == HASH:
        return fingerprint.compute(*args)
    return stats_task(*args, progress=tick)


def task_loop(
    tasks: list[Task],
    counter: Any = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[int, Any]:
    """Run tasks claimed from ``counter`` until none is left; return {task index: result}.

    In a worker the counter is the pool's (given at start-up); the parent passes the same
    one, as ``CameraPool.next_shard``, with its own progress callback. Copies come first in
    ``tasks``: a worker takes the first camera at once, and the parent, once its data pass
    is done, takes the next camera nobody has started (with two cameras on two cores, each
    core copies one), then stats shards.
    """
    counter = _NEXT_SHARD if counter is None else counter
    done: dict[int, Any] = {}
    while (i := claim(counter)) < len(tasks):
        done[i] = run_task(tasks[i], progress)
    _flush_reports()
    return done


class CameraPool:
    """A spawned process pool plus a thread that turns worker progress into bar updates.

    Camera copies and image-stats shards are handed out through a shared counter: each
    worker, and the parent once the data pass is done, claim the next task until none is
    left, so every core stays busy to the end without guessing shares in advance.
    """

    def __init__(self, workers: int) -> None:
        ctx = mp.get_context("spawn")
        self.on_progress: Callable[[str, int], None] = lambda kind, n: None
        self.queue = ctx.SimpleQueue()
        self.next_shard = ctx.Value("i", 0)
        self.abort = ctx.Value("b", 0)
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_init,
            initargs=(self.queue, self.next_shard, self.abort),
        )
        self._listener = threading.Thread(target=self._listen, daemon=True)
        self._listener.start()
        # Start the workers now: their imports (PyAV, numpy, pyarrow) overlap the parent's plan.
        for _ in range(workers):
            self.pool.submit(warm)

    def _listen(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            self.on_progress(*item)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.pool.submit(fn, *args)

    def close(self, abort: bool = False, wait: bool = True) -> None:
        """Stop the workers; with ``abort`` they stop at their next episode (on errors, so
        nothing writes into a temp directory that is about to be removed). ``wait=False``
        once every task is done: the workers' exit then overlaps the summary (the
        interpreter still joins them before it exits)."""
        if abort:
            self.abort.value = 1
        self.pool.shutdown(wait=wait, cancel_futures=True)
        self.queue.put(None)
        self._listener.join(timeout=5)
