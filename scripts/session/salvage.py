"""``make repair SALVAGE=1``: the complete frames of the episode a kill interrupted, kept.

What a recording leaves of the episode being recorded when it is killed (``writer``): its row
log (one JSON line per frame: numeric values, task, tick start; a torn last line is not a
frame) and, per camera, the streaming encoder's mp4, whose index (moov) is written only when
the episode ends. The encoder flushes every packet to that file and h264 carries its SPS/PPS
in the stream, so the packets in the file's ``mdat`` decode without the index: here they are
read as length-prefixed NAL units and decoded with PyAV. A frame is complete when its row is
in the log and every camera has its picture decoded: the episode keeps the first
``n = min(rows, pictures per camera)`` frames (the encoder lags the loop by its lookahead, so
the last few rows usually have no picture yet and go).

The salvaged episode becomes an ordinary episode of the repaired dataset: its data file
(LeRobot's schema, frame_index/timestamp/index continuing the kept episodes), its videos
re-encoded from the decoded pictures with the recording's codec settings (the only files that
are not byte copies: a cut h264 stream has no clean end), its ``meta/episodes`` row with image
stats of the pictures; ``repair`` then computes exact float64 stats over every row and
validates the whole. Runs in the tools env (pyarrow, PyAV, numpy; no LeRobot).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.session import journal

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
INDEX_COLUMNS = ("timestamp", "frame_index", "episode_index", "index", "task_index")


@dataclass
class Partial:
    """What could be salvaged of episode ``index``: n complete frames, or why none."""

    index: int
    rows: list[dict]
    pictures: dict[str, list[np.ndarray]]
    why_not: str = ""

    @property
    def frames(self) -> int:
        if self.why_not:
            return 0
        return min([len(self.rows), *(len(p) for p in self.pictures.values())])


def read_rows(path: Path) -> list[dict]:
    """The complete lines of a row log (a torn or unparsable line ends it)."""
    out = []
    for line in path.read_bytes().split(b"\n"):
        try:
            rec = json.loads(line)
        except ValueError:
            break
        if not isinstance(rec, dict) or "v" not in rec:
            break
        out.append(rec)
    return out


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, payload end) of the mp4 boxes in data[start:end]."""
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        head = 8
        if size == 1 and i + 16 <= end:
            size, head = struct.unpack(">Q", data[i + 8 : i + 16])[0], 16
        elif size == 0:  # to the end of the file (an mdat the muxer never closed)
            size = end - i
        if size < head:
            return
        yield kind, i + head, min(i + size, end)
        i += size


def decode_pictures(path: Path) -> list[np.ndarray]:
    """The pictures (HxWx3 uint8) of an h264 mp4, complete or killed before its index."""
    data = path.read_bytes()
    stream = bytearray()
    for kind, lo, hi in _boxes(data, 0, len(data)):
        if kind != b"mdat":
            continue
        i = lo
        while i + 4 <= hi:
            n = struct.unpack(">I", data[i : i + 4])[0]
            if n == 0 or i + 4 + n > hi:
                break  # the packet being written when the process died
            stream += b"\x00\x00\x00\x01" + data[i + 4 : i + 4 + n]
            i += 4 + n
    if not stream:
        return []
    ctx = av.CodecContext.create("h264", "r")
    out = []
    try:
        for packet in ctx.parse(bytes(stream)):
            out += [f.to_ndarray(format="rgb24") for f in ctx.decode(packet)]
        out += [f.to_ndarray(format="rgb24") for f in ctx.decode(None)]
    except av.FFmpegError:
        pass  # a damaged tail: the pictures decoded before it are whole
    return out


def streaming_mp4(root: Path, key: str) -> Path | None:
    """The newest streaming-encoder mp4 of camera ``key`` (LeRobot's temp folders in root)."""
    found = sorted(
        root.glob(f"tmp*/{key.replace('/', '_')}_streaming.mp4"), key=lambda p: p.stat().st_mtime
    )
    return found[-1] if found else None


def moved_mp4(root: Path, info: dict, key: str, taken: set[str]) -> Path | None:
    """The newest video file of camera ``key`` no kept episode owns (the kill came after
    LeRobot moved the episode's finished mp4 into videos/)."""
    found = [
        p for p in (root / "videos" / key).glob("chunk-*/file-*.mp4")
        if p.relative_to(root).as_posix() not in taken
    ]  # fmt: skip
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def find(root: Path, info: dict, index: int, taken: set[str]) -> Partial:
    """What episode ``index`` left behind (its row log and its cameras' streaming mp4s;
    ``taken``: the files of the kept episodes)."""
    log = journal.partial_rows(root, index)
    if not log.is_file():
        return Partial(index, [], {}, f"no row log of episode {index} ({log.name})")
    rows = read_rows(log)
    for i, r in enumerate(rows):  # past a frame the encoder dropped, rows and pictures part
        if r.get("dropped"):
            rows = rows[:i]
            break
    pictures: dict[str, list[np.ndarray]] = {}
    for key, ft in info["features"].items():
        if ft.get("dtype") != "video":
            continue
        if ft.get("info", {}).get("video.codec") not in ("h264", "libx264"):
            return Partial(index, rows, {}, f"{key}: salvage reads h264 streams only")
        mp4 = streaming_mp4(root, key) or moved_mp4(root, info, key, taken)
        if mp4 is None:
            return Partial(index, rows, {}, f"{key}: no streaming mp4 of the episode")
        pictures[key] = decode_pictures(mp4)
    return Partial(index, rows, pictures)


def _hf_feature(ft: dict) -> dict:
    """The ``huggingface`` schema metadata entry LeRobot writes for a numeric feature."""
    shape = list(ft["shape"])
    if shape == [1]:
        return {"dtype": ft["dtype"], "_type": "Value"}
    return {
        "feature": {"dtype": ft["dtype"], "_type": "Value"},
        "length": shape[0],
        "_type": "List",
    }


def data_table(p: Partial, info: dict, tasks: list[str], first: int) -> pa.Table:
    """The episode's rows in LeRobot's data schema (index from ``first``)."""
    n, fps = p.frames, int(info["fps"])
    cols: dict[str, pa.Array] = {}
    hf: dict[str, dict] = {}
    for key, ft in info["features"].items():
        if ft["dtype"] in ("video", "image") or key in INDEX_COLUMNS:
            continue
        values = np.asarray([r["v"][key] for r in p.rows[:n]], dtype=ft["dtype"])
        width = int(np.prod(ft["shape"]))
        values = values.reshape(n, width)
        if list(ft["shape"]) == [1]:
            cols[key] = pa.array(values[:, 0])
        else:
            cols[key] = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), width)
        hf[key] = _hf_feature(ft)
    task_index = []
    for r in p.rows[:n]:
        if r["task"] not in tasks:
            tasks.append(r["task"])
        task_index.append(tasks.index(r["task"]))
    cols["timestamp"] = pa.array(np.arange(n, dtype=np.float32) / np.float32(fps))
    cols["frame_index"] = pa.array(np.arange(n, dtype=np.int64))
    cols["episode_index"] = pa.array(np.full(n, p.index, dtype=np.int64))
    cols["index"] = pa.array(np.arange(first, first + n, dtype=np.int64))
    cols["task_index"] = pa.array(np.asarray(task_index, dtype=np.int64))
    for key, dt in (("timestamp", "float32"), *((k, "int64") for k in INDEX_COLUMNS[1:])):
        hf[key] = {"dtype": dt, "_type": "Value"}
    meta = {"huggingface": json.dumps({"info": {"features": hf}})}
    return pa.table(cols).replace_schema_metadata(meta)


def encode(pictures: list[np.ndarray], path: Path, vinfo: dict, fps: int) -> None:
    """Encode pictures into an mp4 with the recording's codec settings (PyAV)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"g": str(vinfo.get("video.g") or 2), "crf": str(vinfo.get("video.crf") or 23)}
    if vinfo.get("video.preset"):
        options["preset"] = str(vinfo["video.preset"])
    with av.open(str(path), "w") as out:
        stream = out.add_stream("h264", fps, options=options)
        stream.pix_fmt = vinfo.get("video.pix_fmt") or "yuv420p"
        stream.height, stream.width = pictures[0].shape[:2]
        stream.time_base = Fraction(1, fps)
        for i, pic in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(pic, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def image_stats(pictures: list[np.ndarray]) -> dict[str, list]:
    """Per-channel stats of the pictures in [0, 1], shaped (3, 1, 1) as LeRobot keeps them."""
    px = np.concatenate([p[::4, ::4].reshape(-1, 3) for p in pictures]).astype(np.float64) / 255

    def shaped(v: np.ndarray) -> list:
        return [[[float(x)]] for x in v]

    out = {
        "min": shaped(px.min(0)), "max": shaped(px.max(0)), "mean": shaped(px.mean(0)),
        "std": shaped(px.std(0)), "count": [len(pictures)],
    }  # fmt: skip
    for q in QUANTILES:
        out[f"q{round(q * 100):02d}"] = shaped(np.quantile(px, q, axis=0))
    return out


def _file(rel_template: str, info: dict, file_index: int, **kw) -> tuple[str, int, int]:
    chunk = file_index // int(info.get("chunks_size") or 1000)
    return rel_template.format(chunk_index=chunk, file_index=file_index, **kw), chunk, file_index


def write(
    p: Partial, info: dict, tmp: Path, kept: list[dict], tasks: list[str]
) -> tuple[dict, list[str], str]:
    """Write the salvaged episode into ``tmp``: (its meta/episodes row, data+video files, its
    episodes file). ``tasks`` grows when the episode's task is new."""
    n, fps = p.frames, int(info["fps"])
    first = int(kept[-1]["dataset_to_index"]) if kept else 0
    prev = kept[-1] if kept else None

    def next_index(col: str) -> int:
        return int(prev[col]) + 1 if prev else 0

    data_rel, dc, df = _file(info["data_path"], info, next_index("data/file_index"))
    (tmp / data_rel).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(data_table(p, info, tasks, first), tmp / data_rel)
    row: dict = {
        "episode_index": p.index, "tasks": sorted({r["task"] for r in p.rows[:n]}), "length": n,
        "data/chunk_index": dc, "data/file_index": df,
        "dataset_from_index": first, "dataset_to_index": first + n,
    }  # fmt: skip
    files = [data_rel]
    for key, pics in p.pictures.items():
        rel, vc, vf = _file(
            info["video_path"], info, next_index(f"videos/{key}/file_index"), video_key=key
        )
        encode(pics[:n], tmp / rel, info["features"][key].get("info", {}), fps)
        files.append(rel)
        row.update({f"videos/{key}/chunk_index": vc, f"videos/{key}/file_index": vf})
        row.update({f"videos/{key}/from_timestamp": 0.0, f"videos/{key}/to_timestamp": n / fps})
        for stat, value in image_stats(pics[:n]).items():
            row[f"stats/{key}/{stat}"] = value
    meta_rel, mc, mf = _file(
        "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        info,
        next_index("meta/episodes/file_index"),
    )
    row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = mc, mf
    template = None
    if prev is not None:  # the kept episodes' schema: numeric stats columns come from repair
        template = pq.read_schema(tmp / _file(
            "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet", info,
            int(prev["meta/episodes/file_index"]))[0])  # fmt: skip
    table = _episodes_table(row, info, template)
    (tmp / meta_rel).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp / meta_rel)
    return row, files, meta_rel


def _episodes_table(row: dict, info: dict, template: pa.Schema | None) -> pa.Table:
    """One meta/episodes row; numeric stats columns as placeholders that repair overwrites
    with exact ones (``scripts.fix_stats.rewrite``)."""
    full = dict(row)
    for key, ft in info["features"].items():
        if ft["dtype"] in ("video", "image"):
            continue
        width = int(np.prod(ft["shape"]))
        for stat in ("min", "max", "mean", "std", *(f"q{round(q * 100):02d}" for q in QUANTILES)):
            full.setdefault(f"stats/{key}/{stat}", [0.0] * width)
        full.setdefault(f"stats/{key}/count", [row["length"]])
    if template is not None:
        ordered = {name: full.get(name) for name in template.names}
        return pa.Table.from_pylist([ordered], schema=template)
    return pa.Table.from_pylist([full])
