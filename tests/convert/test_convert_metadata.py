"""``meta/episodes`` file roll-over: same placement as the recorder's 10-episode rule.

The writer batches up to 1000 rows per parquet write; which file each episode lands in must
still follow LeRobot's rule, decided per 10-episode buffer: a new file starts when the
current one plus the next buffer (with its two ``meta/episodes/*`` columns) reaches the limit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.chunks import MB, next_chunk_file
from scripts.convert.metadata import write_episodes


def _buffers(n: int, width: int) -> list[pa.Table]:
    rng = np.random.default_rng(width)
    return [
        pa.table(
            {
                "episode_index": np.arange(lo, min(lo + 10, n)),
                "stats/x/mean": rng.normal(size=min(10, n - lo) * width).tolist()[
                    : min(10, n - lo)
                ],
            }
        )
        for lo in range(0, n, 10)
    ]


def _expected(tables: list[pa.Table], limit: float, chunks_size: int) -> list[tuple[int, int]]:
    """The recorder's placement, one buffer at a time (the rule before batching)."""
    out, chunk, file, size, open_ = [], 0, 0, 0, False
    for t in tables:
        if open_ and size + t.nbytes >= limit:
            chunk, file = next_chunk_file(chunk, file, chunks_size)
            size, open_ = 0, False
        out += [(chunk, file)] * t.num_rows
        size += t.nbytes + 16 * t.num_rows
        open_ = True
    return out


def test_roll_over_matches_per_buffer_rule(tmp_path: Path) -> None:
    tables = _buffers(2345, 3)
    data_mb = 3000 / MB  # a few buffers per file
    files = write_episodes(iter(tables), tmp_path, data_mb, chunks_size=4)
    want = _expected(tables, data_mb * MB, chunks_size=4)
    got = []
    for path in sorted((tmp_path / "meta/episodes").glob("*/*.parquet")):
        t = pq.read_table(path)
        chunk, file = int(path.parent.name[-3:]), int(path.stem[-3:])
        assert set(t.column("meta/episodes/chunk_index").to_pylist()) == {chunk}
        assert set(t.column("meta/episodes/file_index").to_pylist()) == {file}
        got += [(chunk, file)] * t.num_rows
        assert t.column("episode_index").to_pylist() == sorted(
            t.column("episode_index").to_pylist()
        )
    assert files == len(set(want)) > 5
    assert got == want


def test_one_file_when_it_fits(tmp_path: Path) -> None:
    tables = _buffers(1234, 2)
    assert write_episodes(iter(tables), tmp_path, 100.0, chunks_size=1000) == 1
    t = pq.read_table(next((tmp_path / "meta/episodes").glob("*/*.parquet")))
    assert t.column("episode_index").to_pylist() == list(range(1234))


def test_tasks_parquet_as_pandas_writes_it(tmp_path: Path) -> None:
    import pandas as pd

    from scripts.convert.metadata import write_tasks

    tasks = ["pick the cube", "place it in the bin", "ünïcode task"]
    write_tasks(tasks, tmp_path / "ours")
    ref = tmp_path / "ref.parquet"
    pd.DataFrame({"task_index": range(len(tasks))}, index=pd.Index(tasks, name="task")).to_parquet(
        ref
    )
    ours = tmp_path / "ours/meta/tasks.parquet"
    assert pq.read_schema(ours).equals(pq.read_schema(ref), check_metadata=True)
    back = pd.read_parquet(ours)
    assert back.equals(pd.read_parquet(ref)) and back.index.name == "task"
    assert back.iloc[1].name == "place it in the bin" and int(back.iloc[1]["task_index"]) == 1


def test_converter_processes_run_without_pandas() -> None:
    """block_pandas keeps pyarrow from importing pandas (0.5 s per process) and stays scoped."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from scripts.convert.nopandas import block_pandas\n"
        "block_pandas(); block_pandas()\n"
        "import numpy as np, pyarrow as pa\n"
        "pa.table({'a': pa.array(np.arange(3))})\n"
        "assert 'pandas' not in sys.modules, 'pyarrow imported pandas'\n"
        "try:\n"
        "    import pandas\n"
        "except ImportError as exc:\n"
        "    print('blocked:', exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "blocked: pandas is kept out of the converter" in proc.stdout
