"""Before and at the handshake: wait for a warming server, admit a stock one, compare fps.

Why: ``make serve ... &`` then ``make robot ...`` (the README's no-hardware line) starts both
at once; the client asked the health service once, found NOT_SERVING (loading, warming up) or
nothing listening yet, and told the operator to start a server that was starting. A stock
LeRobot server has no health service (UNIMPLEMENTED) and was refused with the same wrong hint.
And a client and a server at different fps ran without a word: the server times a chunk's
actions ``1/fps`` apart (``PolicyServerConfig.environment_dt``), the client performs them at its
own fps, so every motion played at the wrong speed.

What we do: poll health until SERVING for up to ``SERVER_WAIT`` seconds (one line says so and
why); the final error says "not reachable" or "still warming up". UNIMPLEMENTED falls back to
the channel being ready, with a warning of what such a server lacks. The client sends its fps
as gRPC metadata (``FPS_KEY``) with the policy instructions, which ``make serve`` compares with
its own; against a stock server the spacing of the first chunk's timestamps is compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_WAIT_S = 120.0  # a cold make serve (imports, load, warm-up) takes 10-60 s on a CPU box
POLL_S = 0.5
FPS_KEY = "lerobot-ops-fps"  # gRPC metadata on SendPolicyInstructions: the client's fps
SPACING_TOLERANCE = 0.01  # relative; timestamps are t0 + i / fps in floating point
# Health answers worth waiting on, and what they mean.
WAIT_STATES = {
    "NOT_SERVING": "warming up",
    "UNAVAILABLE": "not reachable yet",
    "DEADLINE_EXCEEDED": "listening, not answering yet: starting",
}
STOCK_WARNING = (
    "server {address} has no health service (UNIMPLEMENTED): not a make serve server (stock "
    "LeRobot?): no health checks, no safe decoding of observations, no checkpoint allow-list; "
    "going on"
)


class ServerNotReady(RuntimeError):
    """The server did not become SERVING in time; the message is one line with the fix."""


def final_error(address: str, status: str, wait_s: float) -> str:
    """Why the wait ended, telling an unreachable server from one still warming up."""
    waited = f"waited {wait_s:g} s, make robot SERVER_WAIT=<seconds>"
    if status == "NOT_SERVING":
        return (
            f"server {address} still warming up (health NOT_SERVING; {waited}): wait for its "
            "'serve: SERVING' line, then run make robot again"
        )
    if status in WAIT_STATES:
        return (
            f"server {address} not reachable (health {status}; {waited}): start it "
            "(make serve) or fix SERVER="
        )
    return f"server {address} health is {status}: not a policy server? fix SERVER="


def wait_for_server(
    address: str,
    tls_dir: Path | None,
    wait_s: float,
    say: Callable[[str], None] = print,
) -> str:
    """Poll until the server is SERVING: ``"ours"``; no health service: ``"stock"``.

    A fresh channel per probe: a channel that failed to connect backs off for seconds before
    it tries again, which would hide a server that came up meanwhile.
    """
    import grpc

    from scripts.deploy import health

    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        probe_s = min(5.0, max(0.5, deadline - time.monotonic()))
        with health.channel(address, tls_dir) as channel:
            status = health.check(channel, timeout=probe_s)
            if status == "UNIMPLEMENTED":  # something speaks gRPC there, without health
                grpc.channel_ready_future(channel).result(timeout=probe_s)
                say(f"robot: WARNING {STOCK_WARNING.format(address=address)}")
                return "stock"
        if status == "SERVING":
            return "ours"
        left = deadline - time.monotonic()
        if status not in WAIT_STATES or left <= 0:
            raise ServerNotReady(final_error(address, status, wait_s))
        if not announced:
            say(
                f"robot: waiting up to {wait_s:g} s for server {address} "
                f"(health {status}: {WAIT_STATES[status]})"
            )
            announced = True
        time.sleep(min(POLL_S, left))


def fps_metadata(fps: int) -> tuple[tuple[str, str], ...]:
    """The metadata the client sends with SendPolicyInstructions."""
    return ((FPS_KEY, str(int(fps))),)


def fps_mismatch(client_fps: Any, server_fps: int) -> str | None:
    """The server's refusal when the client's announced fps differs from its own."""
    try:
        fps = int(client_fps)
    except (TypeError, ValueError):
        return f"client sent {FPS_KEY}={client_fps!r}, not an integer fps"
    if fps == int(server_fps):
        return None
    return (
        f"client runs at {fps} fps, server times chunks at {server_fps} fps: "
        f"make serve FPS={fps} or make robot FPS={server_fps}"
    )


def chunk_spacing_mismatch(timestamps: list[float], fps: int) -> str | None:
    """The first chunk's timestamps are 1/server_fps apart: compare with the client's 1/fps."""
    if len(timestamps) < 2:
        return None
    step = (timestamps[-1] - timestamps[0]) / (len(timestamps) - 1)
    if step <= 0:
        return f"the server's action timestamps do not increase (step {step:.4f} s)"
    if abs(step * fps - 1.0) <= SPACING_TOLERANCE:
        return None
    server_fps = 1.0 / step
    return (
        f"client runs at {fps} fps, server times chunks at {server_fps:.4g} fps (actions "
        f"{1000 * step:.1f} ms apart): make serve FPS={fps} or make robot FPS={server_fps:.0f}"
    )
