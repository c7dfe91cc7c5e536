"""The blind, interleaved, randomised order of a rollout session's episodes.

Why: an operator who knows which checkpoint runs resets the scene more kindly for the one
they hope wins, and a session run A-A-A-B-B-B confounds the checkpoint with the time of day
(battery, light, a cube that wears). So the order is shuffled in blocks: every block holds
each checkpoint once, in a random order, so after any block the counts are balanced and a
session stopped early stays comparable. The seed is printed (and stored) so the order can be
reproduced; the operator sees episode numbers only, never checkpoint names (``blind_line``).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """One planned episode: its number in the session and the checkpoint it runs (sealed)."""

    number: int
    checkpoint: str


def new_seed() -> int:
    """A fresh seed (printed by the session, so the order is reproducible from it)."""
    return secrets.randbelow(2**31)


def plan(checkpoints: list[str], episodes: int, seed: int) -> list[Slot]:
    """``episodes`` per checkpoint, shuffled block by block with ``random.Random(seed)``."""
    if episodes < 1:
        raise ValueError(f"EPISODES={episodes}: must be >= 1 per checkpoint")
    if not checkpoints:
        raise ValueError("CHECKPOINT: give at least one checkpoint")
    if len(set(checkpoints)) != len(checkpoints):
        raise ValueError(f"CHECKPOINT={','.join(checkpoints)}: a checkpoint is named twice")
    rng = random.Random(seed)
    order: list[str] = []
    for _ in range(episodes):
        block = list(checkpoints)
        rng.shuffle(block)
        order += block
    return [Slot(i, c) for i, c in enumerate(order)]


def blind_line(slot: Slot, total: int) -> str:
    """What the operator sees: the episode number, nothing that names the checkpoint."""
    return f"episode {slot.number + 1} of {total}"
