"""The front door: make help and guards, environments, Python discovery, direnv, video backend."""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import REPO, env_python, run
from helpers.repo_copy import repo_copy


def test_make_alone_prints_grouped_help() -> None:
    proc = run(["make"])
    assert proc.returncode == 0, proc.stderr
    headings = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith(" ")]
    for group in ("Data", "Train", "Deploy", "Ops", "Dev"):
        assert group in headings, f"group {group} missing from help:\n{proc.stdout}"
    for target in ("convert", "validate", "smoke", "train", "serve", "robot", "envs", "test"):
        assert f"make {target} " in proc.stdout


@pytest.mark.parametrize(
    ("target", "knob"), [("plot", "OUT"), ("weights-import", "FROM"), ("train", "RECIPE")]
)
def test_missing_required_knob_names_itself(target: str, knob: str) -> None:
    proc = run(["make", target])
    assert proc.returncode != 0
    assert f"{knob} is required: make {target} {knob}=" in proc.stderr


def test_unknown_recipe_lists_recipes_and_suggests(tmp_path: Path) -> None:
    proc = run(["make", "train", "RECIPE=act_24", f"DATASET={tmp_path}", "DRY_RUN=1"])
    assert proc.returncode != 0
    assert "act_24g" in proc.stderr  # the closest match is suggested
    assert "smolvla_12g" in proc.stderr  # and the recipes that exist are listed


def test_lerobot_envs_import_lerobot_and_run_train_help() -> None:
    for name in ("act", "smolvla"):
        py = env_python(name)
        proc = run([py, "-c", "import lerobot, sys; print(lerobot.__version__)"])
        assert proc.returncode == 0 and proc.stdout.strip() == "0.6.1", (name, proc.stderr)
        proc = run([py.parent / "lerobot-train", "--help"], timeout=300)
        assert proc.returncode == 0 and "--policy" in proc.stdout, (name, proc.stderr[-2000:])


def test_act_env_has_no_transformers_and_tools_env_has_no_torch() -> None:
    probe = "import importlib.util as u, sys; sys.exit(u.find_spec(sys.argv[1]) is not None)"
    assert run([env_python("act"), "-c", probe, "transformers"]).returncode == 0
    for heavy in ("torch", "lerobot"):
        assert run([env_python("tools"), "-c", probe, heavy]).returncode == 0, heavy
    assert run([env_python("smolvla"), "-c", probe, "transformers"]).returncode == 1


def test_env_is_rebuilt_only_when_its_lock_changes(tmp_path: Path) -> None:
    """A copy of envs.sh + the tools lock: same lock -> no rebuild; changed lock -> rebuild."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "envs.sh", tmp_path / "scripts" / "envs.sh")
    skip_venv = shutil.ignore_patterns(".venv")
    shutil.copytree(REPO / "envs" / "tools", tmp_path / "envs" / "tools", ignore=skip_venv)
    build = [tmp_path / "scripts" / "envs.sh", "build", "tools"]
    first = run(build, cwd=tmp_path)
    assert first.returncode == 0 and "building 'tools'" in first.stderr, first.stderr
    again = run(build, cwd=tmp_path)
    assert again.returncode == 0 and "building" not in again.stderr
    with (tmp_path / "envs" / "tools" / "uv.lock").open("a") as fh:
        fh.write("# touched\n")
    third = run(build, cwd=tmp_path)
    assert third.returncode == 0 and "building 'tools'" in third.stderr


def test_python_discovery_names_the_fix_when_no_312(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    cmd: list = [REPO / "scripts" / "envs.sh", "python"]
    system = [p for p in ("/usr/bin/python3.12", "/usr/local/bin/python3.12") if Path(p).exists()]
    if system:  # common on CI images: hide it in a private mount namespace (root, as CI runs)
        if shutil.which("unshare") is None or os.geteuid() != 0:
            pytest.skip(f"{system[0]} exists and hiding it needs root and unshare")
        hide = " && ".join(f"mount --bind /dev/null {p}" for p in system)
        cmd = ["unshare", "-m", "bash", "-c", f'{hide} && exec "$0" python', cmd[0]]
    proc = run(cmd, env=env)
    assert proc.returncode == 1
    assert "no Python 3.12 found" in proc.stderr and "pyenv install 3.12" in proc.stderr
    assert "asking 'uv python install 3.12'" in proc.stderr  # tried before giving up
    bad = run([REPO / "scripts" / "envs.sh", "python"], env={**env, "PYTHON": "/bin/false"})
    assert bad.returncode == 1 and "PYTHON=/bin/false is not a working Python 3.12" in bad.stderr
    found = run([REPO / "scripts" / "envs.sh", "python"])
    assert found.returncode == 0, found.stderr
    assert run([found.stdout.strip(), "--version"]).stdout.startswith("Python 3.12")


def test_direnv_exports_the_toolkit_defaults(tmp_path: Path) -> None:
    if shutil.which("direnv") is None:
        if os.environ.get("CI"):
            pytest.fail("direnv missing in CI: .ci/run installs it (apt install direnv)")
        pytest.skip("direnv not installed (apt install direnv)")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    assert run(["direnv", "allow", "."], env=env).returncode == 0
    proc = run(["direnv", "exec", ".", "env"], env=env)
    assert proc.returncode == 0, proc.stderr
    got = dict(ln.split("=", 1) for ln in proc.stdout.splitlines() if "=" in ln)
    assert got["HF_HUB_OFFLINE"] == "1"
    assert got["HF_HOME"] == f"{REPO}/.cache/huggingface"
    assert got["HF_DATASETS_CACHE"] == f"{REPO}/.cache/huggingface/datasets"
    assert got["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    # PATH_add prepends: the last line of .envrc comes first.
    assert got["PATH"].split(":")[:3] == [
        f"{REPO}/scripts/nightly",
        f"{REPO}/scripts",
        f"{REPO}/bin",
    ]
    # A value set by the user wins over the default.
    proc = run(["direnv", "exec", ".", "env"], env={**env, "HF_HOME": str(tmp_path / "hf")})
    assert f"HF_HOME={tmp_path}/hf" in proc.stdout


DOTENV = """# site settings
DATA_DIR=/data/lab # where the lab's data lives
HF_HOME="/data/hugging face" # quoted: a blank inside
TORCH_HOME='/data/torch#1'
export WEIGHTS_DIR=/data/weights
"""


def test_make_and_direnv_read_the_same_dotenv(tmp_path: Path) -> None:
    """cron has no direnv: make must read .env by itself, and exactly as direnv does (item 12)."""
    repo = repo_copy(tmp_path / "repo")
    (repo / ".env").write_text(DOTENV)
    want = {
        "DATA_DIR": "/data/lab",
        "HF_HOME": "/data/hugging face",
        "TORCH_HOME": "/data/torch#1",
        "WEIGHTS_DIR": "/data/weights",
    }
    keys = sorted(want)
    script = f"import os, json; print(json.dumps({{k: os.environ[k] for k in {keys!r}}}))"
    (repo / "Makefile").write_text(
        (repo / "Makefile").read_text() + f"\nshow-env:\n\t@python3 -c {shlex.quote(script)}\n"
    )
    proc = run(["make", "-s", "show-env"], cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == want
    if shutil.which("direnv"):
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        }
        assert run(["direnv", "allow", "."], env=env, cwd=repo).returncode == 0
        proc = run(["direnv", "exec", ".", "python3", "-c", script], env=env, cwd=repo)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == want
    (repo / ".env").write_text("DATA_DIR=/data/my lab\n")  # direnv refuses this: so does make
    proc = run(["make", "-s", "show-env"], cwd=repo)
    assert proc.returncode != 0
    assert ".env: line 1: DATA_DIR: a value with blanks must be quoted" in proc.stderr


def video_backend(env_extra: dict[str, str] | None = None):
    """Run the backend chooser in the act env, without the caller's VIDEO_BACKEND unless given."""
    env = {k: v for k, v in os.environ.items() if k != "VIDEO_BACKEND"}
    env.update(PYTHONPATH=str(REPO), **(env_extra or {}))
    return run([env_python("act"), "-m", "scripts.common.video_backend", "--no-cache"], env=env)


def test_video_backend_follows_what_loads_here() -> None:
    have_ffmpeg = bool(
        glob.glob("/usr/lib/*/libavutil.so.*") or glob.glob("/usr/lib/libavutil.so.*")
    )
    proc = video_backend()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("torchcodec" if have_ffmpeg else "pyav")
    assert "video backend:" in proc.stderr


def test_video_backend_falls_back_to_pyav_without_ffmpeg_libs() -> None:
    """Hide FFmpeg's libavutil in a private mount namespace: the real torchcodec import fails."""
    libs = glob.glob("/usr/lib/*/libavutil.so.*")
    if not libs or shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs FFmpeg installed, unshare and root to hide it")
    hide = " && ".join(f"mount --bind /dev/null {lib}" for lib in libs)
    py = env_python("act")
    script = f"{hide} && exec {py} -m scripts.common.video_backend --no-cache"
    env = {k: v for k, v in os.environ.items() if k != "VIDEO_BACKEND"}
    proc = run(["unshare", "-m", "bash", "-c", script], env={**env, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "pyav"
    assert "torchcodec cannot load" in proc.stderr and "libavutil" in proc.stderr


def test_video_backend_override_and_bad_value() -> None:
    proc = video_backend({"VIDEO_BACKEND": "pyav"})
    assert proc.stdout.strip() == "pyav" and "set by you" in proc.stderr
    bad = video_backend({"VIDEO_BACKEND": "ffmpeg"})
    assert bad.returncode != 0 and "VIDEO_BACKEND=ffmpeg is not one of" in bad.stderr


def test_video_backend_cache_is_probed_again_when_ffmpeg_changes(tmp_path: Path) -> None:
    """Item 5: a cached "pyav" from before `apt install ffmpeg` must not stick forever."""
    cache = tmp_path / "backend.json"
    cache.write_text('{"backend": "pyav", "why": "old answer, FFmpeg missing then"}')
    env = {k: v for k, v in os.environ.items() if k not in ("VIDEO_BACKEND", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(REPO)
    cmd = [env_python("act"), "-m", "scripts.common.video_backend", "--cache", cache]
    first = run(cmd, env=env)
    assert first.returncode == 0, first.stderr
    assert "old answer" not in first.stderr and "cached" not in first.stderr
    second = run(cmd, env=env)
    assert second.stdout == first.stdout and "cached until" in second.stderr
    libs = tmp_path / "ffmpeg-libs"  # a new FFmpeg appears where the loader looks
    libs.mkdir()
    (libs / "libavutil.so.59").write_bytes(b"\x7fELF")
    third = run(cmd, env={**env, "LD_LIBRARY_PATH": str(libs)})
    assert third.returncode == 0 and "cached" not in third.stderr, third.stderr
