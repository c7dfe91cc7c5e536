"""Parse lerobot-train argument lists with the pinned LeRobot's TrainPipelineConfig (draccus).

Runs in envs/act or envs/smolvla. Input: a JSON file {name: [args...]}. Output (last line of
stdout): JSON {name: "ok" | "<error>"}. Why: a recipe key LeRobot does not know must fail CI,
not a user's run; parsing the exact flags the launcher builds checks both at once.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path


def parse(args: list[str]) -> str:
    import draccus
    from lerobot.configs.train import TrainPipelineConfig

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            cfg = draccus.parse(TrainPipelineConfig, args=args)
    except SystemExit:
        lines = [ln for ln in err.getvalue().splitlines() if "error" in ln]
        return lines[-1] if lines else err.getvalue()[-300:]
    except Exception as exc:  # a __post_init__ check failing is a broken recipe too
        return f"{type(exc).__name__}: {exc}"
    return "ok" if cfg.policy is not None else "no policy parsed"


def main() -> int:
    # Register the policy config types the recipes use (lighter than lerobot.policies.factory).
    import lerobot.policies.act.configuration_act
    import lerobot.policies.diffusion.configuration_diffusion
    import lerobot.policies.pi0.configuration_pi0
    import lerobot.policies.smolvla.configuration_smolvla  # noqa: F401

    todo = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps({name: parse(args) for name, args in todo.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
