"""`make mutation`: mutmut over the modules where a silent bug corrupts data (issue 16).

Why mutmut (3.x) and not cosmic-ray: mutmut records which tests reach each function once
(its "stats" pass) and then runs only those tests per mutant, in a forked child of an
already-warm interpreter; cosmic-ray runs a whole test command per mutant. With ~9,300
mutants over these 11 modules that is the difference between an hour or two and days on a
2-core box.

Each module runs in its own scratch copy (``.cache/mutation/<module>``: the product files
in the working tree are never edited), with only the fast tests that cover it (``MODULES``
below). Per module it prints killed / survived / no tests / timeout and the score:
killed (+ timeout) over the mutants that are not listed as equivalent in
``tests/mutation/equivalent.txt`` (one line each: the mutant's name, ``#``, why it cannot
change behaviour). Survivors not in that file are listed in
``.cache/mutation/<module>/survivors.txt`` with ``mutmut show``-style diffs.

Usage: python tests/mutation/run.py [MODULE ...] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MUTMUT = REPO / "envs/tools/.venv/bin/mutmut"
WORK = REPO / ".cache" / "mutation"
EQUIVALENT = Path(__file__).with_name("equivalent.txt")

# module -> the fast tests (no LeRobot training, no `slow` marker) that exercise it in-process.
MODULES: dict[str, list[str]] = {
    "scripts/convert/stats.py": [
        "tests/convert/test_convert_stats.py",
        "tests/convert/test_convert_stats_bits.py",
        "tests/convert/test_convert_stats_units.py",
        "tests/convert/test_convert_holes.py",
        "tests/convert/test_convert_video_fast.py",
    ],
    "scripts/convert/aggregate.py": [
        "tests/convert/test_convert_stats.py",
        "tests/convert/test_convert_holes.py",
    ],
    # not test_convert_holes.py: in-process it reaches video.py only through verify's picture
    # check, after a whole conversion in a subprocess; the unit tests call those functions
    "scripts/convert/video.py": [
        "tests/convert/test_convert_video_units.py",
        "tests/convert/test_convert_video_fast.py",
    ],
    "scripts/convert/verify.py": [
        "tests/convert/test_convert_verify.py",
        "tests/convert/test_convert_verify_units.py",
        "tests/convert/test_convert_holes.py",
    ],
    # not verify's whole-pipeline video test: a whole conversion per surviving mutant (and its
    # picture check once hung mutmut's forked children, before frames were converted on one
    # swscale thread), for no data.py line the other files leave unreached
    "scripts/convert/data.py": [
        "tests/convert/test_convert_data_units.py",
        "tests/convert/test_convert_verify.py",
        "--deselect",
        "tests/convert/test_convert_verify.py::test_video_check_catches_frames_from_the_wrong_episode",
        "tests/convert/test_convert_batch.py",
    ],
    # next_chunk_file, shared by data, metadata and video (out of data.py: no import circle)
    "scripts/convert/chunks.py": [
        "tests/convert/test_convert_data_units.py",
        "tests/convert/test_convert_metadata.py",
    ],
    "scripts/convert/metadata.py": [
        "tests/convert/test_convert_metadata.py",
        "tests/convert/test_convert_metadata_lerobot.py",
        "tests/convert/test_convert_stats.py",
    ],
    "validators/data.py": ["tests/validate/test_validate_data_fast.py"],
    "validators/video.py": ["tests/validate/test_validate_video_fast.py"],
    "validators/stats.py": ["tests/validate/test_validate_stats_fast.py"],
    "validators/structure.py": ["tests/validate/test_validate_structure_fast.py"],
    # the corpus test starts LeRobot's recorder (~5 s) in every mutant's pytest: in-process
    # tests on LeRobot-written metadata instead
    "validators/schema.py": [
        "tests/validate/test_validate_schema_meta.py",
        "tests/validate/test_validate_schemas.py",
    ],
}
# the behaviour modules: their tests need datasets LeRobot 0.6.1 records (~25 s), so they run
# on one recording made before the first of them (BEHAVIOUR_DATA, reused by every mutant);
# the converted-samples test converts three datasets in subprocesses: out of the mutant runs
BEHAVIOUR_TESTS = [
    "tests/validate/test_validate_behaviour.py",
    "--deselect",
    "tests/validate/test_validate_behaviour.py::"
    "test_real_fixture_and_converted_samples_have_no_behavioural_finding",
    "--deselect",
    "tests/validate/test_validate_behaviour.py::test_dav1d_lumas_on_the_converted_samples",
]
for _name in ("base", "camera", "episodes", "motion", "plot", "rows", "thresholds"):
    MODULES[f"validators/behaviour/{_name}.py"] = BEHAVIOUR_TESTS
# the camera screen's AV1 decoder; not test_dav1d.py: it encodes with SVT-AV1, whose threads
# hang in mutmut's forked children (every mutant timed out, 1483 s: a score that means nothing)
MODULES["validators/dav1d.py"] = BEHAVIOUR_TESTS
MODULES["validators/behaviour/base.py"] = [
    "tests/validate/test_behaviour_base.py",
    *BEHAVIOUR_TESTS,
]
MODULES["validators/behaviour/rows.py"] = [
    "tests/validate/test_behaviour_rows.py",
    *BEHAVIOUR_TESTS,
]
# the THRESHOLDS=file loader: its own fast tests first (the recorded datasets never load one)
MODULES["validators/behaviour/thresholds.py"] = [
    "tests/validate/test_behaviour_thresholds.py",
    *BEHAVIOUR_TESTS,
]
RECORDER = REPO / "tests/helpers/lerobot_record_behaviour.py"
ACT_PY = REPO / "envs/act/.venv/bin/python"
COPY = ["scripts", "validators", "tests", "pyproject.toml"]
STATUSES = ("killed", "survived", "no tests", "timeout", "suspicious", "skipped", "segfault")


def equivalents() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in EQUIVALENT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("#")
            out[name.strip()] = reason.strip()
    return out


def scratch(module: str) -> Path:
    """A private copy of the code and tests, with mutmut's config for this one module."""
    root = WORK / module.replace("/", "_").removesuffix(".py")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "mutation")
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=ignore)
        else:
            shutil.copy2(src, root / name)
    # mutmut runs the tests from root/mutants (its copy); they find envs/<name>/.venv there
    (root / "mutants").mkdir()
    for shared in ("envs", "recipes"):  # read-only: environments, and recipes for RECIPE= tests
        (root / "mutants" / shared).symlink_to(REPO / shared)
    tests = "\n    ".join(MODULES[module])
    (root / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths =\n    scripts\n    validators\n"
        f"only_mutate =\n    {module}\n"
        f"pytest_add_cli_args_test_selection =\n    {tests}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -m\n    not slow\n    -q\n"
    )
    return root


def behaviour_data() -> Path:
    """The behaviour test's datasets, recorded once by LeRobot (act env) and kept under
    ``.cache/mutation``; recorded again when the recorder script is newer."""
    out = WORK / "behaviour-data"
    done = out / "clean/meta/info.json"
    if done.is_file() and done.stat().st_mtime >= RECORDER.stat().st_mtime:
        return out
    shutil.rmtree(out, ignore_errors=True)
    print(f"mutation: LeRobot records the behaviour datasets into {out}", flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(WORK / "hf")}  # fmt: skip
    subprocess.run([ACT_PY, RECORDER, out], check=True, env=env, cwd=REPO, timeout=1800)
    return out


def run_module(module: str, jobs: int) -> dict[str, list[str]]:
    root = scratch(module)
    env = {**os.environ, "PYTHONPATH": "", "HF_HUB_OFFLINE": "1", "SVT_LOG": "1"}
    if BEHAVIOUR_TESTS[0] in MODULES[module]:  # they need the recorded datasets
        env["BEHAVIOUR_DATA"] = str(behaviour_data())
    log = root / "mutmut.log"
    with log.open("w") as fh:
        subprocess.run(
            [MUTMUT, "run", "--max-children", str(jobs)],
            cwd=root,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    res = subprocess.run(
        [MUTMUT, "results", "--all", "true"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    by: dict[str, list[str]] = {s: [] for s in STATUSES}
    for line in res.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and status in by:
            by[status].append(name)
    return by


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help="default: all of " + ", ".join(MODULES))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        print(
            f"mutation: unknown module(s) {unknown}; choose from {list(MODULES)}", file=sys.stderr
        )
        return 2
    if not MUTMUT.exists():
        print(
            f"mutation: {MUTMUT} missing: make envs (mutmut is in the tools dev group)",
            file=sys.stderr,
        )
        return 2
    eq = equivalents()
    rows = []
    failed: list[str] = []
    t_all = time.monotonic()
    for module in modules:
        t0 = time.monotonic()
        by = run_module(module, args.jobs)
        secs = time.monotonic() - t0
        equiv = [n for n in by["survived"] + by["no tests"] if n in eq]
        alive = [n for n in by["survived"] + by["no tests"] if n not in eq]
        killed = len(by["killed"]) + len(by["timeout"])
        total = killed + len(alive) + len(by["suspicious"])
        if total == 0:
            failed.append(module)
            print(f"{module:32s} mutmut ran no mutant: see {WORK}/<module>/mutmut.log", flush=True)
            continue
        score = 100.0 * killed / total
        rows.append((module, by, len(equiv), score, secs))
        out = WORK / module.replace("/", "_").removesuffix(".py") / "survivors.txt"
        out.write_text("".join(f"{n}\n" for n in sorted(alive)))
        print(
            f"{module:32s} killed {len(by['killed']):4d}  survived {len(by['survived']):4d}  "
            f"no tests {len(by['no tests']):3d}  timeout {len(by['timeout']):3d}  "
            f"equivalent {len(equiv):3d}  score {score:5.1f} %  ({secs:.0f} s)",
            flush=True,
        )
    print(
        f"mutation: {len(modules)} module(s) in {time.monotonic() - t_all:.0f} s; survivors "
        f"per module in {WORK}/<module>/survivors.txt (show one: cd there; mutmut show NAME)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
