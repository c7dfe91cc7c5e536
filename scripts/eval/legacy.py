"""Old (LeRobot 0.3.x layout) ACT checkpoints in ``make eval``: migrated on the fly, then scored.

Why: "new model vs old ACT" must be one command, and LeRobot 0.6.1 cannot run a checkpoint whose
normalisation stats are buffers inside the model. The launcher (tools env) hands each such
CHECKPOINT to ``make migrate``'s own code (``scripts.migrate.migrate``: the old model in
envs/legacy, the copy in envs/act, on frames of the eval DATASET, every action within 1e-5) into
a temporary folder; the policy env then evaluates that copy under the name the user gave, and the
report's notes say so. A copy that fails the proof is an error, never scored. The folder is
deleted when the run ends; the old checkpoint is only read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from scripts.migrate.layout import is_old_act

REPO = Path(__file__).resolve().parents[2]
MIGRATED_ARG = "--migrated"  # hidden runner argument: JSON {given: migrated copy}


def old_ones(checkpoints: list[Any]) -> list[Any]:
    """The resolved checkpoints that are old-layout ACT."""
    return [ck for ck in checkpoints if is_old_act(ck.model_dir)]


def note(given: str, copy: Path) -> str:
    """The report's line saying that ``given`` was evaluated through its migrated copy."""
    try:
        m = json.loads((copy / "migration.json").read_text())
    except (OSError, ValueError):
        return f"{given}: LeRobot 0.3.x layout; evaluated its migrated copy {copy}"
    te = m.get("temporal_ensemble")
    ens = f", {te['steps_compared']} ensembled steps" if te else ""
    return (
        f"{given}: LeRobot 0.3.x layout (stats inside the model), migrated on the fly "
        f"(make migrate's proof: {m['frames_compared']} frames x {m['actions_per_chunk']} "
        f"actions{ens} of {m['frames_source']}, max abs diff {m['max_abs_diff']:.3g} <= "
        f"{m['tolerance_abs']:g} vs LeRobot {m['versions']['old']['lerobot']}); the numbers are "
        "its migrated copy's, run by LeRobot 0.6.1"
    )


def migrate_into(olds: list[Any], dataset: Path, work: Path) -> dict[str, str]:
    """Migrate each old checkpoint into ``work``: {given: copy}; ``RuntimeError`` is one line."""
    for env in ("act", "legacy"):
        if not (REPO / "envs" / env / ".venv" / "bin" / "python").exists():
            raise RuntimeError(
                f"CHECKPOINT={olds[0].given} is an old-layout (LeRobot 0.3.x) ACT checkpoint: "
                f"evaluating it migrates it first, which needs envs/{env} (make env-{env})"
            )
    done = {}
    for i, ck in enumerate(olds):
        copy = work / f"migrated-{i}"
        print(f"[eval] {ck.given}: old-layout ACT, migrating (make migrate, proven on "
              f"{dataset})", file=sys.stderr, flush=True)  # fmt: skip
        r = subprocess.run(
            [str(REPO / "envs/act/.venv/bin/python"), "-m", "scripts.migrate.migrate",
             str(ck.model_dir), str(copy), "--dataset", str(dataset)],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        said = [ln for ln in r.stdout.splitlines() if ln.startswith("migrate:")]
        for ln in said:
            print(f"[eval]   {ln}", file=sys.stderr, flush=True)
        if r.returncode:
            why = said[-1] if said else (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"CHECKPOINT={ck.given}: old-layout ACT not evaluated: {why}")
        done[ck.given] = str(copy)
    return done


def run_with_copies(olds: list[Any], dataset: Path, py: Path, argv: list[str]) -> int:
    """Migrate, run the policy env's runner on the copies, delete them; its exit code."""
    work = Path(tempfile.mkdtemp(prefix="lerobot-ops-eval-migrated-"))
    try:
        try:
            copies = migrate_into(olds, dataset, work)
        except RuntimeError as e:
            print(f"eval: error: {e}", file=sys.stderr)
            return 2
        cmd = [str(py), "-m", "scripts.eval.run", *argv, MIGRATED_ARG, json.dumps(copies)]
        return subprocess.run(cmd, check=False).returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)
