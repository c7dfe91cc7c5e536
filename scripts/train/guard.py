"""lerobot-train that stops at the first non-finite loss or gradient, last good checkpoint kept.

Why: LeRobot 0.6.1 keeps stepping on NaN. ``update_policy`` calls ``optimizer.step()`` with NaN
gradients, every weight turns NaN, and the loop goes on writing checkpoints of a dead model
for hours (``checkpoints/last`` moves onto one of them), with ``loss:nan`` in the log.

How: ``python -m scripts.train.guard .../bin/lerobot-train <args>`` runs LeRobot's own ``main()``
with one function replaced: ``lerobot.scripts.lerobot_train.update_policy``, which the training
loop looks up in its module at every step. The wrapper calls the original and then reads the
step's loss and gradient norm from the metrics tracker it filled in. On a non-finite one it
prints one line (``train: error: step K: loss is nan, gradient norm is nan; ...``, naming the
last good checkpoint) and exits with ``EXIT_NONFINITE``.

Why this hook and not a log watcher: the loop saves a checkpoint *after* ``update_policy``
returns, in the same iteration (``lerobot_train.py``: update, ``step += 1``, log, eval, save).
Raising inside the update therefore guarantees that no checkpoint of step K or later is ever
written, and ``checkpoints/last`` stays on the last good one. A watcher of ``train.log`` sees a
NaN only on a log step (``log_freq``, 100-200 on GPU recipes) and kills asynchronously, so a
save of the poisoned weights can land first.

What counts:

- loss non-finite: always a stop.
- gradient norm non-finite: a stop, except under fp16 mixed precision (a ``GradScaler``): there
  an inf gradient is the scaler probing its scale, and it skips that optimizer step by design.
- several processes (accelerate): gradients are all-reduced, so a NaN on one rank is a NaN
  gradient norm on every rank; every process stops at the same step (torchrun ends the rest).

``LEROBOT_OPS_TEST_NAN_AT_STEP=K`` (tests only) multiplies step K's loss by NaN, a real NaN
flowing through a real backward pass, so the stop is tested on an unmodified LeRobot.
Runs in the recipe's env (envs/act, envs/smolvla): ``cli.py`` launches it in place of
``lerobot-train``; the printed command is the one that runs.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_NONFINITE = 8  # after preflight's 2-7 (scripts/train/preflight.py)
TEST_NAN_ENV = "LEROBOT_OPS_TEST_NAN_AT_STEP"
MODULE = "scripts.train.guard"


def _finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


def verdict(loss: float, grad_norm: float | None, scaler: bool) -> str | None:
    """What went non-finite at a step ("loss is nan, gradient norm is inf"), or None if fine."""
    bad = []
    if not _finite(loss):
        bad.append(f"loss is {loss}")
    if not _finite(grad_norm) and (bad or not scaler):
        bad.append(f"gradient norm is {grad_norm}")
    return ", ".join(bad) or None


def last_checkpoint(output_dir: Path | None) -> str:
    """``step 4 (OUT/checkpoints/000004)``: what ``checkpoints/last`` points at, if anything."""
    if output_dir is None:
        return "unknown (no output_dir)"
    last = output_dir / "checkpoints" / "last"
    try:
        step = json.loads((last / "training_state" / "training_step.json").read_text())["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return "none (no checkpoint was written before it)"
    return f"step {step} ({last.resolve()})"


def stop_line(step: int, what: str, output_dir: Path | None) -> str:
    return (
        f"train: error: step {step}: {what}; stopped before step {step} was checkpointed; "
        f"last good checkpoint: {last_checkpoint(output_dir)}"
    )


def _nan_forward(forward: Callable[..., Any]) -> Callable[..., Any]:
    """``policy.forward`` whose loss is multiplied by NaN (the test hook)."""

    def poisoned(*args: Any, **kwargs: Any) -> Any:
        loss, out = forward(*args, **kwargs)
        return loss * float("nan"), out

    return poisoned


def guarded(update_policy: Callable[..., Any], state: dict[str, Any]) -> Callable[..., Any]:
    """``update_policy`` that exits the process at the first non-finite loss or gradient."""
    nan_at = int(os.environ.get(TEST_NAN_ENV) or 0)

    @functools.wraps(update_policy)
    def wrapper(train_metrics: Any, policy: Any, *args: Any, **kwargs: Any) -> Any:
        step = int(train_metrics.steps) + 1  # the loop increments its step after this call
        own = policy.__dict__.get("forward")  # accelerate may wrap forward per instance
        if step == nan_at:
            policy.forward = _nan_forward(policy.forward)
        try:
            result = update_policy(train_metrics, policy, *args, **kwargs)
        finally:
            if step == nan_at:
                if own is None:
                    del policy.forward  # back to the class's method
                else:
                    policy.forward = own
        metrics = train_metrics.metrics
        loss = float(metrics["loss"].val)
        grad = float(metrics["grad_norm"].val) if "grad_norm" in metrics else None
        accelerator = kwargs.get("accelerator")
        scaler = getattr(accelerator, "scaler", None) is not None
        what = verdict(loss, grad, scaler)
        if what:
            sys.stdout.flush()
            print(stop_line(step, what, state.get("output_dir")), file=sys.stderr, flush=True)
            os._exit(EXIT_NONFINITE)  # now: no handler or atexit of anyone's may save anything
        return result

    return wrapper


def command(cmd: list[str]) -> list[str]:
    """A lerobot-train command line run under the guard, like ``nice`` or ``timeout`` would.

    ``.../bin/lerobot-train ARGS`` -> ``.../bin/python -m scripts.train.guard
    .../bin/lerobot-train ARGS``; after ``accelerate launch ...`` the guard goes in as
    ``-m scripts.train.guard``, one per process. The lerobot-train path stays in the line, so
    the printed command still says what trains, and the guard checks it is its own env's.
    """
    for i, word in enumerate(cmd):
        if Path(word).name == "lerobot-train":
            head = [str(Path(word).with_name("python"))] if i == 0 else []
            return [*cmd[:i], *head, "-m", MODULE, *cmd[i:]]
    raise ValueError(f"no lerobot-train in {cmd}")


def install() -> None:
    """Patch lerobot_train in place: the update step, and a hook that learns output_dir."""
    from lerobot.scripts import lerobot_train as lt

    state: dict[str, Any] = {}
    make_datasets = lt.make_train_eval_datasets

    @functools.wraps(make_datasets)
    def remember_cfg(cfg: Any, *args: Any, **kwargs: Any) -> Any:
        state["output_dir"] = Path(cfg.output_dir) if cfg.output_dir else None
        return make_datasets(cfg, *args, **kwargs)

    lt.make_train_eval_datasets = remember_cfg
    lt.update_policy = guarded(lt.update_policy, state)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    exe = Path(argv[0]) if argv else Path()
    if exe.name != "lerobot-train" or exe.parent.resolve() != Path(sys.executable).parent.resolve():
        print(
            f"guard: error: usage: {Path(sys.executable).parent}/python -m {MODULE} "
            f"{Path(sys.executable).parent}/lerobot-train [lerobot-train args] (got {exe})",
            file=sys.stderr,
        )
        return 2
    install()
    from lerobot.scripts import lerobot_train as lt

    sys.argv = [str(exe), *argv[1:]]
    lt.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
