"""Live storage bytes: a ``TorchDispatchMode`` that counts every storage an op creates.

Why storages, not tensors: views (``x.t()``, ``x[0]``) share memory, and the CUDA caching
allocator hands out one block per storage. A storage's Python object lives exactly as long as its
memory (PyTorch preserves storage PyObjects), so a ``weakref.finalize`` on it tells us when the
block is freed. The same code runs on real and on fake tensors, which is what lets a CPU test
compare the two.

``round_to`` models the CUDA caching allocator, which rounds every block up to a multiple of
512 bytes (``kMinBlockSize`` in c10/cuda/CUDACachingAllocator.cpp); ``torch.cuda.
max_memory_allocated`` reports those rounded sizes. Use 1 to count raw bytes.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

CUDA_BLOCK = 512  # c10/cuda/CUDACachingAllocator.cpp: kMinBlockSize


class LiveBytes(TorchDispatchMode):
    """Counts bytes of live storages; ``peak`` is the maximum since the last :meth:`reset_peak`."""

    def __init__(self, round_to: int = CUDA_BLOCK) -> None:
        super().__init__()
        self.round_to = max(1, round_to)
        self.live = 0
        self.peak = 0
        self._seen: dict[int, int] = {}
        self.marks: dict[str, int] = {}

    def _size(self, nbytes: int) -> int:
        if nbytes == 0:
            return 0
        r = self.round_to
        return (nbytes + r - 1) // r * r

    def _forget(self, key: int) -> None:
        self.live -= self._seen.pop(key, 0)

    def add(self, tensors: Iterable[Any]) -> None:
        """Start counting the storages of ``tensors`` (weights, batch, optimizer state...)."""
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            try:
                st = t.untyped_storage()
            except (RuntimeError, NotImplementedError):
                continue  # sparse or otherwise storage-less tensors: none in these policies
            key = id(st)
            if key in self._seen:
                continue
            size = self._size(st.nbytes())
            self._seen[key] = size
            self.live += size
            weakref.finalize(st, self._forget, key)
        self.peak = max(self.peak, self.live)

    def reset_peak(self) -> None:
        """Peak := what is live now (the next phase's peak starts from here)."""
        self.peak = self.live

    def mark(self, name: str) -> None:
        """Record the peak of the phase that just ended under ``name``; start the next one."""
        self.marks[name] = self.peak
        self.reset_peak()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        flat, _ = tree_flatten(out)
        self.add(flat)
        return out


def storage_bytes(tensors: Iterable[torch.Tensor], round_to: int = CUDA_BLOCK) -> int:
    """Bytes of the distinct storages behind ``tensors`` (tied weights counted once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        if t is None:
            continue
        st = t.untyped_storage()
        n = st.nbytes()
        seen[id(st)] = 0 if n == 0 else (n + round_to - 1) // round_to * round_to
    return sum(seen.values())
