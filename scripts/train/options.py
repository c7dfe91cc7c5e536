"""Check ``ARGS`` overrides against the options the pinned lerobot-train really has.

Why: a typo (``--policy.chunk_sise=10``) used to pass preflight and fail only when the GPU was
already booked. The option names come from LeRobot's own parser (draccus over
``TrainPipelineConfig``, every registered policy config), listed once per environment
(~10 s) and cached beside its venv until the environment is rebuilt.

    python -m scripts.train.options   (in envs/act or envs/smolvla: prints the option names)
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

CACHE_NAME = ".lerobot-train-options.json"
STAMP = ".built-from"
OPTION = re.compile(r"--([A-Za-z_][\w.]*)")


def list_options() -> list[str]:
    """In a LeRobot env: every ``--key`` lerobot-train's parser documents."""
    import draccus
    import lerobot.policies.act.configuration_act  # registers the policy type
    from lerobot.configs.train import TrainPipelineConfig

    with contextlib.suppress(ImportError):  # only in the smolvla env
        import lerobot.policies.pi0.configuration_pi0
        import lerobot.policies.smolvla.configuration_smolvla  # noqa: F401
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        draccus.parse(TrainPipelineConfig, args=["--help"])
    return sorted(set(OPTION.findall(out.getvalue())))


def options(venv: Path) -> set[str]:
    """The option names for the env at ``venv``, from the cache when the env is unchanged."""
    stamp = (venv / STAMP).read_text() if (venv / STAMP).is_file() else ""
    cache = venv / CACHE_NAME
    try:
        saved = json.loads(cache.read_text())
        if saved["stamp"] == stamp:
            return set(saved["options"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "scripts.train.options"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        return set()  # cannot tell: LeRobot itself will judge the flags
    names = json.loads(proc.stdout.strip().splitlines()[-1])
    tmp = cache.with_name(f"{cache.name}.tmp")
    tmp.write_text(json.dumps({"stamp": stamp, "options": names}))
    tmp.replace(cache)
    return set(names)


def unknown(keys: list[str], known: set[str]) -> list[str]:
    """One line per key LeRobot would refuse, with the closest real option."""
    lines = []
    for key in keys:
        if not known or key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        hint = f"; did you mean --{close[0]}?" if close else ""
        lines.append(f"ARGS: --{key} is not an option of lerobot-train (LeRobot 0.6.1){hint}")
    return lines


if __name__ == "__main__":
    print(json.dumps(list_options()))
    sys.exit(0)
