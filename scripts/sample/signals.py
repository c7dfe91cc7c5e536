"""Joint trajectories for ``observation.state`` and ``action``.

Smooth sinusoids around a per-joint offset, in degrees like the Koch recording, with the
action leading the state by one frame plus small noise (as a teleoperated follower lags).
Seeded by ``(seed, episode_index)`` so an episode's numbers do not depend on its neighbours.
"""

from __future__ import annotations

import numpy as np


def trajectories(
    seed: int, episode_index: int, length: int, state_dim: int, action_dim: int, fps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(state, action)`` float32 arrays of shape (length, dim)."""
    rng = np.random.default_rng([seed, episode_index])
    dim = max(state_dim, action_dim)
    offset = rng.uniform(-30.0, 30.0, dim)
    amp = rng.uniform(2.0, 10.0, dim)
    freq = rng.uniform(0.2, 1.0, dim)
    phase = rng.uniform(0.0, 2 * np.pi, dim)
    t = np.arange(length + 1)[:, None] / fps
    clean = offset + amp * np.sin(2 * np.pi * freq * t + phase)
    state = clean[:-1, :state_dim] + rng.normal(0.0, 0.1, (length, state_dim))
    action = clean[1:, :action_dim] + rng.normal(0.0, 0.2, (length, action_dim))
    return state.astype(np.float32), action.astype(np.float32)
