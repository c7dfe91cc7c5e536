"""Round-trip latency of the simulator as dynamixel-sdk sees it (for the README's numbers).

Why not inside a test: absolute times depend on the box and its load; tests assert behaviour,
this prints numbers. Runs in envs/act against a port (start `make motors-sim` first):

    envs/act/.venv/bin/python tests/helpers/motors_bench.py PORT [--n 2000]

Each sample is one GroupSyncRead of Present_Position from the six Koch motors (what
KochFollower.get_observation sends), timed from the request to the sixth status packet.
"""

from __future__ import annotations

import argparse
import json
import time

import dynamixel_sdk as dxl


def main() -> None:
    """Print {"n", "failures", "p50_ms", "p99_ms", "max_ms"} as one JSON line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("port")
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    port = dxl.PortHandler(args.port)
    packets = dxl.PacketHandler(2.0)
    port.openPort()
    reader = dxl.GroupSyncRead(port, packets, 132, 4)
    for motor_id in range(1, 7):
        reader.addParam(motor_id)
    times, failures = [], 0
    for _ in range(args.n):
        t0 = time.perf_counter()
        ok = reader.txRxPacket() == dxl.COMM_SUCCESS
        times.append((time.perf_counter() - t0) * 1e3)
        failures += not ok
        time.sleep(0.001)
    port.closePort()
    times.sort()
    pick = lambda q: round(times[min(len(times) - 1, int(q * len(times)))], 3)  # noqa: E731
    print(
        json.dumps(
            {
                "n": args.n,
                "failures": failures,
                "p50_ms": pick(0.5),
                "p99_ms": pick(0.99),
                "max_ms": times[-1],
            }
        )
    )


if __name__ == "__main__":
    main()
