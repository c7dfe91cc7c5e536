"""The validator on what labs' disks really hold (issue 15 items 8, 9, 12).

Unreadable files (root ignores modes, so the validator runs with the DAC capabilities
dropped, as the converter's tests do), macOS AppleDouble ``._*`` files from exFAT disks, and
a REPORT= path that cannot be written. Each: one line naming the file or knob, the right exit
code, and the dataset byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURE_V21, env_python, run

NO_DAC = (
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)


def validate(*args: str | Path, unprivileged: bool = False):
    cmd = [env_python("tools"), "-m", "validators", *args, "--no-progress"]
    if unprivileged:
        if shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed to test permissions as root")
        cmd = [*NO_DAC, *cmd]
    return run(cmd, timeout=300)


def digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def v30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from scripts.convert.pipeline import Options, convert

    root = tmp_path_factory.mktemp("harden")
    shutil.copytree(FIXTURE_V21, root / "src")
    convert(Options(src=root / "src", dst=root / "koch_v30", jobs=1, progress=False))
    return root / "koch_v30"


@pytest.mark.parametrize(
    "victim",
    [
        "meta/info.json",
        "meta/stats.json",
        "data/chunk-000/file-000.parquet",
        "videos/observation.images.phone/chunk-000/file-000.mp4",
        "meta/episodes",
    ],
)
def test_unreadable_file_is_named_not_a_traceback(v30: Path, tmp_path: Path, victim: str) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(v30, ds)
    before = digest(ds)
    (ds / victim).chmod(0)
    try:
        proc = validate(ds, unprivileged=True)
    finally:
        (ds / victim).chmod(0o755 if (ds / victim).is_dir() else 0o644)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 3, proc.stdout + proc.stderr  # not 1: no verdict on the contents
    assert lines == [lines[0]] and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"validate: error: {ds / victim}: permission denied"), lines
    assert digest(ds) == before


def test_v21_appledouble_files_ignored_and_said_once(tmp_path: Path) -> None:
    ds = tmp_path / "v21"
    shutil.copytree(FIXTURE_V21, ds)
    for rel in (
        "data/chunk-000/._episode_000000.parquet",
        "videos/chunk-000/observation.images.laptop/._episode_000001.mp4",
        "videos/chunk-000/observation.images.phone/._episode_000002.mp4",
    ):
        (ds / rel).write_bytes(b"\x00\x05\x16\x07AppleDouble")  # what macOS writes: not media
    (ds / "videos/.DS_Store").write_bytes(b"Bud1")
    proc = validate(ds, "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-2000:]
    ids = [f["check_id"] for f in report["findings"]]
    assert ids.count("structure.hidden_file") == 1 and "structure.orphan_file" not in ids, ids
    hidden = next(f for f in report["findings"] if f["check_id"] == "structure.hidden_file")
    assert hidden["severity"] == "warning" and "ignored 4 hidden file(s)" in hidden["message"]
    assert "3 macOS AppleDouble" in hidden["message"]
    assert not [f for f in report["findings"] if f["severity"] == "error"]


def test_v30_hidden_parquet_in_data_is_an_error_because_lerobot_loads_it(
    v30: Path, tmp_path: Path
) -> None:
    """LeRobot 0.6.1 globs data/*/*.parquet with pathlib (hidden names match): shown for real."""
    ds = tmp_path / "ds"
    shutil.copytree(v30, ds)
    (ds / "data/chunk-000/._file-000.parquet").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    proc = validate(ds, "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    found = [f for f in report["findings"] if f["check_id"] == "structure.hidden_file"]
    assert len(found) == 1 and found[0]["severity"] == "error", report["findings"]
    assert found[0]["file"] == "data/chunk-000/._file-000.parquet"
    code = (
        "import sys; from pathlib import Path\n"
        "from lerobot.datasets.io_utils import load_nested_dataset\n"
        "try:\n    load_nested_dataset(Path(sys.argv[1]) / 'data')\n"
        "except Exception as exc:\n    print('LOAD FAILED', type(exc).__name__); sys.exit(0)\n"
        "print('LOADED')\n"
    )
    proc = run([env_python("act"), "-c", code, ds], timeout=300)
    assert "LOAD FAILED" in proc.stdout, proc.stdout + proc.stderr[-2000:]


def test_report_path_problems_are_one_line_and_create_nothing(v30: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "r.json"
    proc = validate(v30, "--report", missing)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert proc.stderr.strip().startswith(f"validate: error: REPORT={missing}")
    assert not (tmp_path / "no").exists()
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    proc = validate(v30, "--report", ro / "r.json", unprivileged=True)
    assert proc.returncode == 2 and "not writable" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and list(ro.iterdir()) == []
    good = tmp_path / "r.json"
    proc = validate(v30, "--report", good)
    assert proc.returncode == 0 and json.loads(good.read_text())["errors"] == 0
