"""``python -m scripts.eval``: check every input in the tools env, then run in the policy's env.

The plan (checkpoints, dataset version, episodes, features, output paths) is made here first,
so a bad input fails in about a second without importing torch; then this process becomes
``envs/<env>/.venv/bin/python -m scripts.eval.run`` with the same arguments (ACT -> act,
SmolVLA/PI0 -> smolvla, as ``make serve`` picks). An old-layout (LeRobot 0.3.x) ACT checkpoint is
migrated first, proven, into a temporary folder (``scripts.eval.legacy``), and the runner is a
child process so the folder can be deleted after it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from scripts.eval import cli, legacy
from scripts.eval.plan import make_plan

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = cli.parser().parse_args(argv)
    try:
        plan = make_plan(
            args.checkpoint, args.dataset, args.episodes, args.step,
            {"JSON": args.json, "PNG": args.png},
        )  # fmt: skip
    except cli.EXPECTED as e:
        return cli.fail(str(e))
    env = plan.checkpoints[0].env
    py = REPO / "envs" / env / ".venv" / "bin" / "python"
    if not py.exists():
        return cli.fail(f"{py} missing: build it with make env-{env}")
    if olds := legacy.old_ones(plan.checkpoints):  # LeRobot 0.3.x ACT: migrate, then evaluate
        try:
            return legacy.run_with_copies(olds, plan.dataset, py, argv)
        except KeyboardInterrupt:
            return cli.fail("interrupted; nothing written")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(str(py), [str(py), "-m", "scripts.eval.run", *argv])
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
