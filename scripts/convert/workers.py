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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from scripts.convert.video import CameraEpisode, CameraResult, DepthParams, convert_camera

_QUEUE: Any = None
IN_WORKER = False
_PR_SET_PDEATHSIG = 1


def _init(queue: Any) -> None:
    global _QUEUE, IN_WORKER
    _QUEUE = queue
    IN_WORKER = True
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux: workers still exit when the pool's pipe closes
    if os.getppid() == 1:  # parent already gone
        os._exit(1)
    import av

    av.logging.set_level(av.logging.PANIC)


def _report(n: int) -> None:
    if _QUEUE is not None:
        _QUEUE.put(n)


def camera_task(
    key: str,
    episodes: list[CameraEpisode],
    dst: Path,
    video_mb: float,
    chunks_size: int,
    fps: int,
    reencode: bool,
    depth: DepthParams | None,
) -> CameraResult:
    """One camera, start to finish (runs in a worker, or in the parent with --jobs 1)."""
    from scripts.convert.pipeline import hook

    result = convert_camera(
        key, episodes, dst, video_mb, chunks_size, fps, reencode, depth=depth, progress=_report
    )
    hook("mid-video")
    return result


class CameraPool:
    """A spawned process pool plus a thread that turns worker progress into bar updates."""

    def __init__(self, workers: int, on_progress) -> None:
        ctx = mp.get_context("spawn")
        self.queue = ctx.SimpleQueue()
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init, initargs=(self.queue,)
        )
        self._listener = threading.Thread(target=self._listen, args=(on_progress,), daemon=True)
        self._listener.start()

    def _listen(self, on_progress) -> None:
        while True:
            n = self.queue.get()
            if n is None:
                return
            on_progress(n)

    def submit(self, *args):
        return self.pool.submit(camera_task, *args)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.queue.put(None)
        self._listener.join(timeout=5)
