"""``make eval`` inside the policy's env: plan, predict, score, rank, report.

Stages print one ``[eval]`` line each (logs); a tqdm bar over frames shows on a terminal.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from scripts.eval import cli, metrics, plot, report
from scripts.eval.plan import make_plan


def say(msg: str) -> None:
    print(f"[eval] {msg}", file=sys.stderr, flush=True)


def evaluate(args: Any) -> dict[str, Any]:
    """Run the evaluation ``args`` (cli.parser) describe; returns the report document."""
    import torch
    from tqdm import tqdm

    from scripts.eval.frames import FrameSource, load_policy, pick_device, predict, video_backend

    t0 = time.perf_counter()
    plan = make_plan(
        args.checkpoint, args.dataset, args.episodes, args.step,
        {"JSON": args.json, "PNG": args.png}, args.migrated,
    )  # fmt: skip
    for note in plan.notes:
        say(f"note: {note}")
    device = pick_device(args.device)
    backend = video_backend()
    source = FrameSource(plan.dataset, plan.episodes, backend)
    say(
        f"{len(plan.checkpoints)} checkpoint(s) on {len(plan.episodes)} episode(s), "
        f"{len(source)} frames of {plan.dataset} (device {device}, video {backend})"
    )
    entries, errors, traces = [], [], {}
    show_bar = not args.no_progress and sys.stderr.isatty()
    trace_ep = plan.episodes[0]
    rows = source.episode == trace_ep
    for ck in plan.checkpoints:
        seeds = list(range(args.seeds)) if ck.stochastic else [0]
        say(f"{ck.given}: {ck.policy_type} from {ck.model_dir} ({len(seeds)} seed(s))")
        loaded = load_policy(ck, device)
        t_ck = time.perf_counter()
        with tqdm(total=len(source), unit="frame", disable=not show_bar, leave=False) as bar:
            preds = predict(loaded, source, args.batch, seeds, bar.update)
        fps = len(source) * len(seeds) / max(time.perf_counter() - t_ck, 1e-9)
        targets, mask = metrics.future_targets(source.actions, source.episode, preds.shape[2])
        fields, err = metrics.compute(
            preds, targets, mask, source.episode, plan.names, ck.stochastic
        )
        entries.append(
            {
                "path": ck.given,
                "model_dir": str(ck.model_dir),
                "step": ck.step,
                "policy_type": ck.policy_type,
                "episodes": list(plan.episodes),
                **fields,
                "frames_per_s": round(fps, 2),
            }
        )
        errors.append(err)
        traces[ck.given] = preds[:, rows, 0].mean(axis=0)
        say(f"{ck.given}: mae {fields['mae']:.4g}, {fps:.1f} frames/s")
        del loaded
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    ranked = metrics.rank([e["path"] for e in entries], [e["mae"] for e in entries], errors)
    doc = report.document(
        plan, entries, ranked, device=device, seconds=round(time.perf_counter() - t0, 2)
    )
    if args.json:
        report.write(args.json, doc)
        say(f"wrote {args.json}")
    if args.png:
        plot.write(args.png, plan.names, trace_ep, source.actions[rows], traces, doc)
        say(f"wrote {args.png}")
    return doc


def main(argv: list[str] | None = None) -> int:
    from scripts.eval.frames import LoadError

    args = cli.parser().parse_args(argv)
    try:
        doc = evaluate(args)
    except (*cli.EXPECTED, LoadError) as e:
        return cli.fail(str(e))
    except KeyboardInterrupt:
        return cli.fail("interrupted; nothing written")
    print(report.table(doc))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
