"""Readiness group: will the recipe's policy train on this dataset?

Checks what otherwise fails hours in (or silently trains badly): state/action wider than
the policy's ``max_state_dim``/``max_action_dim``, image keys a pretrained policy expects
but the dataset lacks (without a rename), episodes shorter than the action chunk, and no
task text for a language-conditioned policy.
"""

from __future__ import annotations

import re

from validators import dataset_format as fmt
from validators.context import Context
from validators.policies import PolicySpec

STATE_KEY = "observation.state"
ACTION_KEY = "action"


def _dim(ctx: Context, key: str) -> int | None:
    ft = ctx.features.get(key)
    if not isinstance(ft, dict):
        return None
    shape = ft.get("shape") or []
    return int(shape[0]) if len(shape) == 1 else None


def run(ctx: Context, spec: PolicySpec) -> None:
    recipe = f"recipes/{spec.recipe}.yaml"
    for problem in spec.problems:
        ctx.add("readiness.recipe", "warning", problem, "check the recipe", file=recipe)
    if (
        spec.chunk_size is not None
        and spec.n_action_steps is not None
        and spec.n_action_steps > spec.chunk_size
    ):
        ctx.add(
            "readiness.recipe",
            "error",
            f"n_action_steps {spec.n_action_steps} > chunk_size {spec.chunk_size}",
            "LeRobot rejects this config; set policy.n_action_steps <= policy.chunk_size",
            file=recipe,
        )
    check_dims(ctx, spec, recipe)
    check_images(ctx, spec, recipe)
    check_lengths(ctx, spec, recipe)
    check_tasks(ctx, spec, recipe)
    # Last, so the findings above (what the converted dataset will still lack) come first.
    if not ctx.is_v3:
        ctx.add(
            "readiness.needs_conversion",
            "error",
            f"the dataset is {ctx.version}: LeRobot 0.6.1 trains only on v3.0 "
            "(make train refuses it)",
            f"convert it first: make convert SRC={ctx.root}",
            file=fmt.INFO_PATH,
        )


def check_dims(ctx: Context, spec: PolicySpec, recipe: str) -> None:
    for key, limit, knob in (
        (STATE_KEY, spec.max_state_dim, "max_state_dim"),
        (ACTION_KEY, spec.max_action_dim, "max_action_dim"),
    ):
        if key not in ctx.features:
            if key == ACTION_KEY or spec.type != "act":
                ctx.add(
                    "readiness.missing_feature",
                    "error",
                    f"{spec.type} trains on {key!r}, which the dataset does not have",
                    f"record {key!r} or choose a policy that does not need it",
                )
            continue
        dim = _dim(ctx, key)
        if limit is not None and dim is not None and dim > limit:
            check_id = "readiness.state_dim" if key == STATE_KEY else "readiness.action_dim"
            ctx.add(
                check_id,
                "error",
                f"{key} is {dim}-d but {spec.type}'s {knob} is {limit}: the policy's projection "
                "layers would not fit the vector",
                f"set policy.{knob}: {dim} (or more) in {recipe}; make train raises it itself",
                file=recipe,
            )


def check_images(ctx: Context, spec: PolicySpec, recipe: str) -> None:
    visual = ctx.keys_of(*fmt.VISUAL_DTYPES)
    renamed = {spec.rename_map.get(k, k) for k in visual}
    for key in spec.image_keys:
        if key not in renamed:
            ctx.add(
                "readiness.image_keys",
                "error",
                f"{spec.type} expects camera {key!r}; the dataset has {visual or 'no cameras'}",
                f"add rename_map {{<dataset key>: {key!r}}} to {recipe} (or record that camera)",
                file=recipe,
            )
    if spec.needs_image and not visual and spec.empty_cameras == 0:
        ctx.add(
            "readiness.image_keys",
            "error",
            f"{spec.type} needs at least one camera and the dataset has none",
            "record a camera or set policy.empty_cameras",
            file=recipe,
        )
    if spec.type == "act" and not visual and STATE_KEY not in ctx.features:
        ctx.add(
            "readiness.image_keys",
            "error",
            "ACT needs at least one image or the environment state among the inputs",
            "record a camera",
            file=recipe,
        )


def check_lengths(ctx: Context, spec: PolicySpec, recipe: str) -> None:
    chunk = spec.chunk_size
    if not chunk or not ctx.episodes:
        return
    short = [ep for ep in ctx.episodes if ep.length < chunk]
    if not short:
        return
    ids = [ep.episode_index for ep in short]
    fits = min(ep.length for ep in ctx.episodes)
    # A warning, not an error: LeRobot pads the chunk past an episode's end (and masks the
    # padding out of the loss), so training runs; the chunks are just mostly padding.
    ctx.add(
        "readiness.episode_too_short",
        "warning",
        f"{len(short)}/{len(ctx.episodes)} episodes are shorter than chunk_size {chunk} "
        f"(e.g. episode {ids[0]}: {short[0].length} frames; episodes {ids[:10]}); "
        "LeRobot pads their action chunks",
        f"for chunks that fit every episode: make train ... "
        f"ARGS='--policy.chunk_size={fits} --policy.n_action_steps={fits}'",
        file=recipe,
        episode=ids[0],
    )


def check_tasks(ctx: Context, spec: PolicySpec, recipe: str) -> None:
    if not spec.language or spec.single_task:
        return
    texts = list((ctx.tasks or {}).values())
    usable = [t for t in texts if isinstance(t, str) and t.strip() and not re.fullmatch(r"\d+", t)]
    if not usable:
        ctx.add(
            "readiness.no_task_text",
            "error",
            f"{spec.type} is language-conditioned but the dataset has no task text",
            "write a task per episode into the tasks file (meta/tasks.parquet 'task' index)",
            file=fmt.TASKS_PATH if ctx.is_v3 else fmt.LEGACY_TASKS_PATH,
        )
        return
    empty = [ep.episode_index for ep in ctx.episodes if not any(t.strip() for t in ep.tasks)]
    if empty:
        ctx.add(
            "readiness.no_task_text",
            "error",
            f"{len(empty)} episodes have no task text (e.g. episode {empty[0]})",
            "give every episode a task description",
            episode=empty[0],
        )
