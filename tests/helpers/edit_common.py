"""Plumbing for tests/edit: run ``make edit``'s CLI, checksum a tree, compare rows and stats.

Sources are written by LeRobot 0.6.1 itself (``train_common.make_v30``), built once per
session and copied per test; the checks read parquet with pyarrow and numpy (tools env).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import REPO, env_python, run

RENUMBERED = ("index", "episode_index", "task_index")


def edit(op: str, dataset: str | Path, dst: Path, *knobs: str, env: dict | None = None):
    """``python -m scripts.edit`` as ``make edit`` runs it (tools env, repo on PYTHONPATH)."""
    cmd = [sys.executable, "-m", "scripts.edit", op, str(dataset), "--dst", str(dst), *knobs]
    kw = {"env": env} if env is not None else {}
    return run(cmd, timeout=300, **kw)


def checksums(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: relative path -> (sha256, mtime_ns)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(root).as_posix()] = (
                hashlib.sha256(p.read_bytes()).hexdigest(),
                st.st_mtime_ns,
            )
    return out


def rows(root: Path) -> pa.Table:
    files = sorted((root / "data").glob("*/*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files)


def episodes(root: Path) -> list[dict]:
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    return sorted(
        pa.concat_tables(pq.read_table(f) for f in files).to_pylist(),
        key=lambda r: r["episode_index"],
    )


def tasks(root: Path) -> list[str]:
    t = pq.read_table(root / "meta" / "tasks.parquet")
    pairs = zip(t["task_index"].to_pylist(), t["task"].to_pylist(), strict=True)
    return [text for _, text in sorted(pairs)]


def episode_rows(root: Path, episode: int) -> pa.Table:
    t = rows(root)
    mask = pa.compute.equal(t["episode_index"], episode)
    return t.filter(mask)


def assert_same_rows(
    dst: Path,
    out_ep: int,
    src: Path,
    src_ep: int,
    start: int = 0,
    step: int = 1,
    renames: dict[str, str] | None = None,
) -> None:
    """Output episode rows == source rows ``start, start + step, ...`` (kept columns),
    renumbered columns as promised (a cut or downsampled episode: frame_index from 0,
    timestamp = frame_index / the output's fps)."""
    a = episode_rows(dst, out_ep)
    b = episode_rows(src, src_ep)
    b = b.take(list(range(start, b.num_rows, step))[: a.num_rows])
    assert a.num_rows == b.num_rows, f"{dst} episode {out_ep}: {a.num_rows} rows"
    src_tasks, dst_tasks = tasks(src), tasks(dst)
    moved = start or step != 1
    for name in a.column_names:
        if name in RENUMBERED or (moved and name in ("frame_index", "timestamp")):
            continue
        assert a[name].equals(b[name]), f"{dst} episode {out_ep}: column {name} differs"
    if moved:
        fps = json.loads((dst / "meta" / "info.json").read_text())["fps"]
        assert a["frame_index"].to_pylist() == list(range(a.num_rows))
        want = (np.arange(a.num_rows) / fps).astype(np.float32)
        np.testing.assert_array_equal(a["timestamp"].to_numpy(), want)
    assert a["episode_index"].to_pylist() == [out_ep] * a.num_rows
    got = [dst_tasks[i] for i in a["task_index"].to_pylist()]
    names = renames or {}
    assert got == [names.get(t, t) for t in (src_tasks[i] for i in b["task_index"].to_pylist())]


def assert_layout(dst: Path, n_episodes: int, n_frames: int) -> None:
    """index = row position, episode_index 0..N-1 contiguous, totals in info.json."""
    t = rows(dst)
    assert t["index"].to_pylist() == list(range(t.num_rows))
    eps = t["episode_index"].to_numpy()
    assert sorted(set(eps.tolist())) == list(range(n_episodes))
    assert np.all(np.diff(eps) >= 0)
    info = json.loads((dst / "meta" / "info.json").read_text())
    assert (info["total_episodes"], info["total_frames"]) == (n_episodes, n_frames)
    assert t.num_rows == n_frames
    assert info["splits"] == {"train": f"0:{n_episodes}"}
    for i, e in enumerate(episodes(dst)):
        assert e["episode_index"] == i
        assert e["dataset_to_index"] - e["dataset_from_index"] == e["length"]


def assert_exact_stats(dst: Path, features=("action", "observation.state")) -> None:
    """Per-episode and stats.json mean/std/min/max equal float64 numpy over the rows."""
    t = rows(dst)
    eps = t["episode_index"].to_numpy()
    meta = episodes(dst)
    stats = json.loads((dst / "meta" / "stats.json").read_text())
    for ft in features:
        values = np.asarray(t[ft].to_pylist(), dtype=np.float64)
        for e in meta:
            v = values[eps == e["episode_index"]]
            np.testing.assert_allclose(e[f"stats/{ft}/mean"], v.mean(0), rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(e[f"stats/{ft}/std"], v.std(0), rtol=1e-9, atol=1e-15)
            np.testing.assert_array_equal(e[f"stats/{ft}/min"], v.min(0))
            np.testing.assert_array_equal(e[f"stats/{ft}/max"], v.max(0))
            assert e[f"stats/{ft}/count"] == [len(v)]
        np.testing.assert_allclose(stats[ft]["mean"], values.mean(0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(stats[ft]["std"], values.std(0), rtol=1e-9, atol=1e-15)
        assert stats[ft]["count"] == [len(values)]


def validates(dst: Path) -> None:
    proc = run([sys.executable, "-m", "validators", str(dst)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def lerobot_loads(tmp: Path, checks: list[tuple[Path, dict]]) -> list[dict]:
    """LeRobot 0.6.1 (envs/act) loads each output and matches its source item by item."""
    args: list = [env_python("act"), REPO / "tests" / "helpers" / "lerobot_check_edited.py"]
    for n, (dst, mapping) in enumerate(checks):
        path = tmp / f"map-{n}.json"
        path.write_text(json.dumps(mapping))
        args += [dst, path]
    proc = run(args, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
