"""Migrate an old-layout (LeRobot 0.3.x) ACT checkpoint to LeRobot 0.6.1 and prove it (act env).

``python -m scripts.migrate.migrate FROM DST [--dataset DIR] [--frames N]``. Exit 0: DST written,
with ``migration.json``; 1: refused (DST not created), one ``migrate:`` line saying why.
``--check NEW`` instead of DST proves an existing 0.4+ checkpoint (e.g. what LeRobot's own
``migrate_policy_normalization`` wrote) against FROM the same way, writing nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEGACY_PY = ROOT / "envs" / "legacy" / ".venv" / "bin" / "python"
TOL = 1e-5
SUPPORTED = ("act",)
_MODULES = ("normalize_inputs", "normalize_targets", "unnormalize_outputs")


class Refused(Exception):
    """One line for the user; DST is not created."""


def say(msg: str) -> None:
    print(f"migrate: {msg}", flush=True)


def check_input(src: Path, dst: Path | None) -> tuple[dict, dict]:
    from safetensors.torch import load_file

    if dst is not None and dst.exists():
        raise Refused(f"DST {dst} exists; choose a new folder (nothing is written over)")
    if not (src / "config.json").is_file() or not (src / "model.safetensors").is_file():
        raise Refused(f"{src} is not a checkpoint (needs config.json and model.safetensors)")
    try:
        config = json.loads((src / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise Refused(f"{src}/config.json is not JSON ({e})") from None
    kind = config.get("type")
    if kind not in SUPPORTED:
        raise Refused(f"{src} is a '{kind}' policy; supported: {', '.join(SUPPORTED)}")
    if not config.get("input_features") or not config.get("output_features"):
        raise Refused(f"{src}/config.json names no input/output features (older than 0.3.x)")
    state = load_file(str(src / "model.safetensors"))
    if not any(k.split(".")[0] in _MODULES for k in state):
        if list(src.glob("policy_preprocessor*.json")):
            raise Refused(
                f"{src} is already a LeRobot 0.4+ checkpoint (processor files); nothing to do"
            )
        raise Refused(
            f"{src} has no normalisation buffers and no processor files: not an old-layout ACT"
        )
    return config, state


def extract(state: dict, config: dict, cases: list[str]) -> tuple[dict, dict]:
    """Stats per feature key from the buffers, with LeRobot's own extraction, keys mapped by config.

    LeRobot's ``extract_normalization_stats`` turns every ``_`` of a buffer name into ``.``, so a
    camera ``observation.images.front_cam`` comes back as ``observation.images.front.cam``: the
    feature keys are taken from the config instead (buffer names are ``key.replace('.', '_')``).
    Where a buffer is inf (never fitted) the feature's stats come from another module when one
    has them fitted; the case is reported either way.
    """
    from lerobot.processor.migrate_policy_normalization import extract_normalization_stats

    keys = list(config.get("input_features", {})) + list(config.get("output_features", {}))
    by_buffer = {k.replace(".", "_"): k for k in keys}
    lerobot_view = extract_normalization_stats(state)
    stats: dict[str, dict] = {}
    inf: dict[str, list[str]] = {}
    for module in _MODULES:
        sub = {k[len(module) + 1 :]: v for k, v in state.items() if k.startswith(module + ".")}
        one = extract_normalization_stats({f"normalize_inputs.{k}": v for k, v in sub.items()})
        for mangled, st in one.items():
            buffer = mangled.replace(".", "_")
            key = by_buffer.get(buffer)
            if key is None:
                raise Refused(f"buffer {module}.buffer_{buffer} matches no feature of config.json")
            if key != mangled:
                cases.append(
                    f"image/feature key renamed: buffer_{buffer} -> '{key}'"
                    f" (LeRobot's extraction gives '{mangled}')"
                )
            bad = [s for s, t in st.items() if not bool(t.isfinite().all())]
            if bad:
                inf.setdefault(key, []).append(f"{module}:{'/'.join(sorted(bad))}")
                continue
            have = stats.setdefault(key, {})
            for s, t in st.items():
                if s in have and not bool((have[s] == t).all()):
                    raise Refused(f"feature '{key}': {s} differs between normalisation modules")
                have[s] = t
    for key, where in inf.items():
        fitted = (
            "fitted in another module, used from there"
            if key in stats
            else "no fitted stats anywhere"
        )
        cases.append(f"inf stats buffers (never fitted): '{key}' in {', '.join(where)}; {fitted}")
    return stats, {"lerobot_keys": sorted(lerobot_view), "inf": inf}


def build_new(
    full: dict, given: dict, stats: dict, state: dict, out: Path, cases: list[str]
) -> None:
    import torch
    from lerobot.configs import FeatureType, NormalizationMode
    from lerobot.policies import get_policy_class, make_policy_config, make_pre_post_processors
    from lerobot.processor.migrate_policy_normalization import (
        clean_state_dict,
        convert_features_to_policy_features,
        remove_normalization_layers,
    )

    cfg = {k: v for k, v in full.items() if k != "type"}
    from lerobot.policies.act.configuration_act import ACTConfig

    known = set(ACTConfig.__dataclass_fields__)
    dropped = sorted(k for k in cfg if k not in known)
    for k in dropped:
        cases.append(f"config field '{k}' has no 0.6.1 equivalent: dropped (value {cfg.pop(k)!r})")
    cfg["input_features"] = convert_features_to_policy_features(cfg["input_features"])
    cfg["output_features"] = convert_features_to_policy_features(cfg["output_features"])
    for feats in (cfg["input_features"], cfg["output_features"]):
        for k, f in feats.items():  # the old config says its types: keep them over name guessing
            old = (full["input_features"] | full["output_features"])[k].get("type")
            if old and old != f.type.value:
                feats[k] = type(f)(FeatureType(old), f.shape)
    cfg["normalization_mapping"] = {
        FeatureType(t): NormalizationMode(m) for t, m in full["normalization_mapping"].items()
    }
    policy_cfg = make_policy_config("act", **cfg)
    policy = get_policy_class("act")(policy_cfg)
    clean = clean_state_dict(remove_normalization_layers(state), remove_str="._orig_mod")
    res = policy.load_state_dict(clean, strict=False)
    if res.missing_keys or res.unexpected_keys:
        raise Refused(
            f"weights do not fit 0.6.1's ACT: missing {res.missing_keys[:3]},"
            f" unexpected {res.unexpected_keys[:3]}"
        )
    policy.to(torch.float32)
    pre, post = make_pre_post_processors(policy_cfg=policy_cfg, dataset_stats=stats)
    pre.save_pretrained(out)
    post.save_pretrained(out)
    policy.save_pretrained(out)
    for name in ("n_action_steps", "chunk_size", "temporal_ensemble_coeff"):
        src = "config.json" if name in given else "0.3.3 default"
        cases.append(f"{name} = {getattr(policy_cfg, name)!r} carried over ({src})")


def make_frames(config: dict, n: int, seed: int, dataset: Path | None, stats: dict) -> dict:
    """One batch of observations: n frames of DATASET, or generated at the checkpoint's shapes."""
    import torch

    feats = config["input_features"]
    if dataset is not None:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        ds = LeRobotDataset("local/migrate", root=dataset, video_backend="pyav")
        idx = torch.linspace(0, len(ds) - 1, n).round().long().tolist()
        items = [ds[i] for i in idx]
        missing = [k for k in feats if k not in items[0]]
        if missing:
            raise Refused(f"DATASET {dataset} lacks the checkpoint's features {missing}")
        return {k: torch.stack([it[k] for it in items]).float() for k in feats}
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, f in feats.items():
        shape = (n, *f["shape"])
        if f.get("type") == "VISUAL":
            out[k] = torch.rand(shape, generator=g)
        else:
            st = stats.get(k, {})
            mean = st.get("mean", torch.zeros(f["shape"]))
            std = st.get("std", torch.ones(f["shape"]))
            out[k] = mean + std * torch.randn(shape, generator=g)
    return out


def run_new(out: Path, frames: dict) -> dict:
    """The new checkpoint's chunks (and, with temporal ensembling, its per-step actions)."""
    import torch
    from lerobot.policies import get_policy_class, make_pre_post_processors
    from lerobot.policies.act.configuration_act import ACTConfig

    cfg = ACTConfig.from_pretrained(out)
    policy = get_policy_class("act").from_pretrained(out).eval()
    pre, post = make_pre_post_processors(policy_cfg=cfg, pretrained_path=str(out))
    torch.manual_seed(0)
    with torch.inference_mode():
        batch = pre({k: v.clone() for k, v in frames.items()})
        result = {"action": post(policy.predict_action_chunk(batch))}
        if cfg.temporal_ensemble_coeff is not None:
            policy.reset()
            n = next(iter(frames.values())).shape[0]
            steps = []
            for t in range(n):
                one = pre({k: v[t : t + 1].clone() for k, v in frames.items()})
                steps.append(post(policy.select_action(one)))
            result["steps"] = torch.cat(steps)
        return result


def legacy(*args: str) -> None:
    if not LEGACY_PY.exists():
        raise Refused("envs/legacy is not built: make env-legacy")
    r = subprocess.run(
        [str(LEGACY_PY), "-m", "scripts.migrate.legacy", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if r.returncode:
        tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise Refused(f"LeRobot 0.3.3 (envs/legacy) failed on it: {tail}")


def stats_diff(stats_file_dir: Path, state: dict, config: dict) -> list[str]:
    """Features whose stats in the written processor differ from the old model's fitted buffers."""
    from safetensors.torch import load_file

    written = {}
    for f in stats_file_dir.glob("policy_*processor*normalizer*.safetensors"):
        written |= load_file(str(f))
    bad = []
    keys = list(config["input_features"]) + list(config["output_features"])
    for key in keys:
        for module in _MODULES:
            for s in ("mean", "std", "min", "max"):
                old = state.get(f"{module}.buffer_{key.replace('.', '_')}.{s}")
                new = written.get(f"{key}.{s}")
                if old is None or not bool(old.isfinite().all()):
                    continue
                if new is None:
                    bad.append(f"'{key}' {s} (missing from the processor files)")
                    continue
                d = float((old - new.reshape(old.shape)).abs().max())
                if d > 0:
                    bad.append(f"'{key}' {s} (max diff {d:.3g})")
    return sorted(set(bad))


def check_new(new: Path) -> None:
    """CHECK=dir must be a 0.4+ ACT checkpoint (config, weights, processor files)."""
    if not (new / "config.json").is_file() or not (new / "model.safetensors").is_file():
        raise Refused(f"CHECK {new} is not a checkpoint (needs config.json and model.safetensors)")
    if not list(new.glob("policy_preprocessor*.json")):
        raise Refused(f"CHECK {new} has no processor files: not a LeRobot 0.4+ checkpoint")


def compare(a_old: dict, a_new: dict, out: Path, state: dict, full: dict) -> dict:
    """Max abs differences of chunks (and ensembled steps); Refused beyond TOL, naming stats."""
    result = {}
    for name, what in (("action", "action chunks"), ("steps", "temporally ensembled actions")):
        if name not in a_old and name not in a_new:
            continue
        old, new = a_old.get(name), a_new.get(name)
        if old is None or new is None or old.shape != new.shape:
            shapes = [None if t is None else tuple(t.shape) for t in (old, new)]
            raise Refused(f"{what} differ in shape: old {shapes[0]}, new {shapes[1]}")
        dims = tuple(range(old.dim() - 1))
        per_dim = [float(d) for d in (old.double() - new.double()).abs().amax(dim=dims)]
        worst = max(per_dim)
        if not math.isfinite(worst) or worst > TOL:
            bad = stats_diff(out, state, full)
            off = [i for i, d in enumerate(per_dim) if not d <= TOL]
            raise Refused(
                f"new {what} differ from the old model's by up to {worst:.3g} (> {TOL})"
                f" in action dims {off}; "
                f"stats that differ from the old buffers: {', '.join(bad) or 'none found'}"
            )
        result[name] = (per_dim, worst, tuple(old.shape))
    return result


def migrate(
    src: Path, dst: Path | None, dataset: Path | None, n: int, seed: int, check: Path | None = None
) -> dict:
    """Write DST (or, with ``check``, prove that existing checkpoint); the report dict."""
    import torch
    from safetensors.torch import load_file, save_file

    given, state = check_input(src, dst)
    if check is not None:
        check_new(check)
    cases: list[str] = []
    base = (dst if check is None else check).parent  # type: ignore[union-attr]
    if check is None:
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.partial-", dir=base))  # type: ignore[union-attr]
    else:
        tmp = Path(tempfile.mkdtemp(prefix="lerobot-ops-migrate-check-"))
    try:
        work = tmp / "work"
        out = tmp / "checkpoint" if check is None else check
        work.mkdir()
        stats, seen = extract(state, given, cases)
        frames = make_frames(given, n, seed, dataset, stats)
        save_file({k: v.contiguous() for k, v in frames.items()}, str(work / "frames.safetensors"))
        legacy(
            "run",
            str(src),
            str(work / "frames.safetensors"),
            str(work / "old_actions.safetensors"),
            str(work / "old.json"),
        )
        old = json.loads((work / "old.json").read_text())
        for k, v in old["missing_fields"].items():
            cases.append(f"config field '{k}' missing: old default {v!r}")
        full = old["config"]
        if check is None:
            build_new(full, given, stats, state, out, cases)
        got = compare(load_file(str(work / "old_actions.safetensors")), run_new(out, frames),
                      out, state, full)  # fmt: skip
        per_dim, worst, shape = got["action"]
        report = {
            "from": str(src),
            "frames_compared": int(shape[0]),
            "actions_per_chunk": int(shape[1]),
            "frames_source": str(dataset) if dataset else f"generated, seed {seed}",
            "tolerance_abs": TOL,
            "max_abs_diff": worst,
            "max_abs_diff_per_action_dim": per_dim,
            "cases": list(dict.fromkeys(cases)),
            "inf_buffers": seen["inf"],
            "versions": {
                "old": old["versions"],
                "new": {"lerobot": version("lerobot"), "torch": torch.__version__},
            },
        }
        if "steps" in got:
            s_dim, s_worst, s_shape = got["steps"]
            report["temporal_ensemble"] = {
                "coeff": full.get("temporal_ensemble_coeff"),
                "steps_compared": int(s_shape[0]),
                "max_abs_diff": s_worst,
                "max_abs_diff_per_action_dim": s_dim,
            }
        if check is None:
            if (src / "train_config.json").exists():
                shutil.copy2(src / "train_config.json", out)
            (out / "migration.json").write_text(json.dumps(report, indent=2) + "\n")
            out.rename(dst)  # type: ignore[arg-type]
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make migrate", description=__doc__)
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path, nargs="?")
    p.add_argument("--check", type=Path, help="prove this existing 0.4+ checkpoint; write nothing")
    p.add_argument("--dataset", type=Path)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    src = a.src.resolve()
    if (a.dst is None) == (a.check is None):
        say("give DST (write a migrated copy) or --check NEW (prove an existing one), not both")
        return 1
    dst = a.dst.resolve() if a.dst is not None else None
    if dst is not None and (src == dst or dst.is_relative_to(src)):
        say("DST must not be FROM or inside it: the source is never written")
        return 1
    try:
        r = migrate(src, dst, a.dataset, a.frames, a.seed, a.check and a.check.resolve())
    except Refused as e:
        say(f"refused: {e}")
        return 1
    for c in r["cases"]:
        say(f"handled: {c}")
    te = r.get("temporal_ensemble")
    if te:
        say(
            f"temporal ensembling (coeff {te['coeff']}): {te['steps_compared']} select_action "
            f"steps agree, max abs diff {te['max_abs_diff']:.3g} <= {TOL}"
        )
    say(
        f"{a.dst or a.check}: {r['frames_compared']} frames x {r['actions_per_chunk']} actions "
        f"agree, max abs diff {r['max_abs_diff']:.3g} <= {TOL}"
        + (" (migration.json)" if a.dst else " (checked, nothing written)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
