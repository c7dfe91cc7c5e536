"""A crash-safe v3.0 episode writer on LeRobot 0.6.1's own LeRobotDataset (runs in envs/act).

The engine is LeRobot's: ``LeRobotDataset.create`` / ``.resume``, ``add_frame``,
``save_episode``, ``finalize``, its streaming video encoder and codec options. What it does
not do is leave a complete episode safe on disk: it keeps one ParquetWriter open per data file
and per ``meta/episodes`` file (no footer until ``finalize``: a kill makes every episode of
that file unreadable, LeRobot #3522), buffers 10 episodes' metadata in memory, appends
episodes to a shared mp4 by re-muxing it, and rewrites ``info.json`` in place. So, here:

- every episode gets its own data file, video file per camera and ``meta/episodes`` file
  (``data_files_size_in_mb`` / ``video_files_size_in_mb`` = ``EPISODE_FILE_MB``, so LeRobot's
  own rotation opens a new file for each episode; ``metadata_buffer_size=1``);
- right after ``save_episode`` both parquet writers are closed (footers written), every file
  of the episode is fsynced, its tick periods and an ``info.json`` snapshot are written, and
  last its journal line is appended (``journal``): once that line exists the episode's files
  are complete and are never opened for writing again. A kill can only damage the episode
  being recorded, which ``make repair`` drops;
- a streaming encoder that dropped frames (its queue was full: the video would be shorter
  than the data) makes the episode be discarded, not saved broken;
- for ``make repair SALVAGE=1`` the episode being recorded is kept salvageable: every frame's
  numeric values (and the tick's start time) are appended to a row log
  (``journal.partial_rows``, one JSON line per frame, written straight to the file: a SIGKILL
  loses nothing the line holds), the streaming encoder's mp4 flushes every packet to its file
  (``flush_packets``) and h264 repeats SPS/PPS in the stream (``repeat-headers``), so the
  frames of an mp4 whose index (moov) was never written still decode (``salvage``).

Why per-episode files are fine: v3.0 allows any number of files (1000 per chunk folder), and
LeRobot's reader maps episodes to files through ``meta/episodes``; it is v2.1's layout again,
which LeRobot trained on for years.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

from scripts.session import journal

EPISODE_FILE_MB = 1e-6  # smaller than any file: LeRobot rotates to a new file per episode
# Crash tests: LEROBOT_OPS_RECORD_KILL_AT=<stage>:<episode> SIGKILLs this process there, like a
# power cut: save-data (rows in LeRobot's open data ParquetWriter, no footer), save-video (the
# encoded mp4 not yet moved into videos/), save-meta (meta row written, its file without a
# footer, info.json already counting the episode), save-journal (all closed, not committed),
# finalize-stats (exact stats half installed: scripts.session.exact).
KILL_ENV = "LEROBOT_OPS_RECORD_KILL_AT"


def kill_hook(stage: str, episode: int | str) -> None:
    """Die here when the crash test asks for this stage and episode."""
    if os.environ.get(KILL_ENV) == f"{stage}:{episode}":
        os.kill(os.getpid(), signal.SIGKILL)


def _install_kill_hooks(ds) -> None:
    """Wrap LeRobot's save steps with ``kill_hook`` (only when the crash test asks)."""
    w, meta = ds.writer, ds.meta
    data, video, save_meta = w._save_episode_data, w._save_episode_video, meta.save_episode

    def save_data(buf):
        out = data(buf)
        kill_hook("save-data", meta.total_episodes)
        return out

    def save_video(key, episode_index, temp_path=None):
        kill_hook("save-video", episode_index)
        return video(key, episode_index, temp_path=temp_path)

    def meta_save(episode_index, *rest):
        save_meta(episode_index, *rest)
        kill_hook("save-meta", episode_index)

    w._save_episode_data, w._save_episode_video, meta.save_episode = (
        save_data,
        save_video,
        meta_save,
    )


class EncoderBehind(RuntimeError):
    """The streaming encoder dropped frames; the episode cannot be saved consistently."""


def rgb_encoder(codec: str, encoder_threads: int | None = None):
    """LeRobot's RGBEncoderConfig for ``codec`` (h264: preset veryfast, crf 23; else LeRobot's)."""
    from lerobot.configs.video import RGBEncoderConfig

    if codec in ("h264", "libx264"):
        # repeat-headers: SPS/PPS in the stream too (not only in the moov a kill never writes),
        # so make repair SALVAGE=1 can decode a killed episode's frames; ~40 bytes a keyframe.
        return RGBEncoderConfig(
            vcodec="h264", preset="veryfast", crf=23,
            extra_options={"x264-params": "repeat-headers=1"},
        )  # fmt: skip
    return RGBEncoderConfig(vcodec=codec)


class _FlushingAV:
    """LeRobot's video_utils' view of PyAV: the streaming encoder's mp4 is opened with
    ``flush_packets=1`` so each encoded frame reaches the file at once (PyAV's 32 KB write
    buffer would otherwise hold the last second of a small video when the process is killed).
    Everything else is PyAV itself."""

    def __init__(self, av) -> None:
        self._av = av

    def __getattr__(self, name: str):
        return getattr(self._av, name)

    def open(self, file, mode="r", *args, **kwargs):
        if mode == "w" and str(file).endswith("_streaming.mp4"):
            opts = dict(kwargs.get("container_options") or {})
            opts.setdefault("flush_packets", "1")
            kwargs["container_options"] = opts
        return self._av.open(file, mode, *args, **kwargs)


def _flush_streaming_packets() -> None:
    """Install ``_FlushingAV`` in LeRobot's video_utils (once)."""
    from lerobot.datasets import video_utils

    if not isinstance(video_utils.av, _FlushingAV):
        video_utils.av = _FlushingAV(video_utils.av)


class CrashSafeWriter:
    """``Session``'s sink: LeRobotDataset underneath, one committed journal line per episode."""

    def __init__(self, ds, root: Path, *, streaming: bool) -> None:
        self.ds = ds
        self.root = Path(root)
        self.streaming = streaming
        self.save_seconds: list[float] = []
        self.codec = ""
        self._rows_fd: int | None = None
        self._row_keys = [
            k for k, ft in ds.features.items()
            if ft["dtype"] not in ("video", "image")
            and k not in ("timestamp", "frame_index", "episode_index", "index", "task_index")
        ]  # fmt: skip
        if streaming:
            _flush_streaming_packets()
        if os.environ.get(KILL_ENV):
            _install_kill_hooks(ds)

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: Path,
        *,
        fps: int,
        features: dict,
        robot_type: str,
        codec: str = "h264",
        streaming: bool = True,
        encoder_threads: int | None = None,
        settings: dict | None = None,
    ) -> CrashSafeWriter:
        """A new dataset at ``root`` (which must not exist) and its marker."""
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        root = Path(root)
        ds = LeRobotDataset.create(
            repo_id=f"local/{root.name}",
            fps=fps,
            features=features,
            root=root,
            robot_type=robot_type,
            use_videos=True,
            rgb_encoder=rgb_encoder(codec, encoder_threads),
            streaming_encoding=streaming,
            encoder_threads=encoder_threads,
            image_writer_threads=0 if streaming else 4,
            metadata_buffer_size=1,
            data_files_size_in_mb=EPISODE_FILE_MB,
            video_files_size_in_mb=EPISODE_FILE_MB,
        )
        journal.write_marker(root, {"fps": fps, "codec": codec, "streaming": streaming,
                                    **(settings or {})})  # fmt: skip
        return cls(ds, root, streaming=streaming)

    @classmethod
    def resume(
        cls,
        root: Path,
        *,
        codec: str = "h264",
        streaming: bool = True,
        encoder_threads: int | None = None,
    ) -> CrashSafeWriter:
        """Append to a recording (its marker checked by the caller): numbering goes on."""
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        root = Path(root)
        ds = LeRobotDataset.resume(
            repo_id=f"local/{root.name}",
            root=root,
            rgb_encoder=rgb_encoder(codec, encoder_threads),
            streaming_encoding=streaming,
            encoder_threads=encoder_threads,
            image_writer_threads=0 if streaming else 4,
        )
        ds.meta._metadata_buffer_size = 1  # resume() takes no such argument
        return cls(ds, root, streaming=streaming)

    # ---- the Sink protocol ---------------------------------------------------------------
    @property
    def next_index(self) -> int:
        """The index the episode being recorded will get."""
        return int(self.ds.meta.total_episodes)

    @property
    def features(self) -> dict:
        return self.ds.features

    def add(self, frame: dict) -> None:
        t = time.perf_counter()
        self.ds.add_frame(frame)
        self._log_row(frame, t)

    def _log_row(self, frame: dict, t: float) -> None:
        """Append the frame's numeric values to the episode's row log (salvage, see above)."""
        if self._rows_fd is None:
            path = journal.partial_rows(self.root, self.next_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._rows_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        row = {k: _plain(frame[k]) for k in self._row_keys if k in frame}
        enc = getattr(self.ds.writer, "_streaming_encoder", None)
        dropped = sum((getattr(enc, "_dropped_frames", None) or {}).values())
        rec = {"t": t, "task": frame.get("task", ""), "v": row, "dropped": dropped}
        line = json.dumps(rec) + "\n"
        os.write(self._rows_fd, line.encode())

    def _drop_rows(self, index: int) -> None:
        """Close and delete the row log (the episode was discarded or is committed)."""
        if self._rows_fd is not None:
            os.close(self._rows_fd)
            self._rows_fd = None
        journal.partial_rows(self.root, index).unlink(missing_ok=True)

    def discard(self) -> None:
        if self.ds.has_pending_frames() or self.streaming:
            self.ds.clear_episode_buffer()
        self._drop_rows(self.next_index)

    def _dropped(self) -> dict[str, int]:
        enc = getattr(self.ds.writer, "_streaming_encoder", None)
        return {k: int(v) for k, v in (getattr(enc, "_dropped_frames", None) or {}).items() if v}

    def save(self, periods: list[float], summary: dict, extra: dict | None = None) -> dict:
        """Save, close, fsync, then commit the journal line; returns that line.

        ``extra`` (``make rollout``: label, policy id, timing) becomes columns of this episode's
        row in LeRobot's ``meta/episodes`` (names with a ``/``, e.g. ``rollout/label``, beside
        LeRobot's own ``videos/...``; LeRobot 0.6.1 loads and keeps them) and the journal line.
        """
        index = self.next_index
        dropped = self._dropped()
        if dropped:
            self.ds.clear_episode_buffer()
            self._drop_rows(index)
            return {"episode_index": index, "discarded": f"the video encoder dropped {dropped} "
                    "frames (CPU too slow for this codec/size/fps)"}  # fmt: skip
        t = time.perf_counter()
        if extra:
            meta = self.ds.meta
            plain = meta.save_episode

            def with_extra(episode_index, length, tasks, stats, episode_metadata):
                plain(episode_index, length, tasks, stats, {**episode_metadata, **extra})

            meta.save_episode = with_extra
            try:
                self.ds.save_episode()
            finally:
                meta.save_episode = plain
        else:
            self.ds.save_episode()
        self.ds.writer.close_writer()  # data file footer
        self.ds.meta._close_writer()  # meta/episodes file footer
        ep = self.ds.meta.latest_episode
        meta = self.ds.meta
        files = [
            meta.data_path.format(
                chunk_index=ep["data/chunk_index"][0], file_index=ep["data/file_index"][0]
            )
        ]
        for key in meta.video_keys:
            files.append(
                meta.video_path.format(
                    video_key=key,
                    chunk_index=ep[f"videos/{key}/chunk_index"][0],
                    file_index=ep[f"videos/{key}/file_index"][0],
                )
            )
        episodes_file = "meta/episodes/chunk-{:03d}/file-{:03d}.parquet".format(
            ep["meta/episodes/chunk_index"][0], ep["meta/episodes/file_index"][0]
        )
        for rel in [*files, episodes_file, "meta/info.json", "meta/stats.json"]:
            journal.fsync_path(self.root / rel)
            journal.fsync_path((self.root / rel).parent)
        if (self.root / "meta/tasks.parquet").exists():
            journal.fsync_path(self.root / "meta/tasks.parquet")
        journal.write_ticks(self.root, index, periods)
        journal.atomic_write(
            self.root / journal.INFO_SNAPSHOT, (self.root / "meta/info.json").read_bytes()
        )
        kill_hook("save-journal", index)
        save_s = time.perf_counter() - t
        self.save_seconds.append(save_s)
        record = {
            "episode_index": index,
            "length": int(ep["length"][0]),
            "dataset_from_index": int(ep["dataset_from_index"][0]),
            "dataset_to_index": int(ep["dataset_to_index"][0]),
            "tasks": list(ep["tasks"][0]),
            "files": {rel: journal.sha256(self.root / rel) for rel in files},
            "timing": summary,
            "save_s": round(save_s, 4),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **({"extra": extra} if extra else {}),
        }
        journal.append(self.root, record)
        self._drop_rows(index)
        return record

    def abort(self) -> None:
        """The session ends on an error (bus lost, disk full): stop the streaming encoder now.

        LeRobot's own exit path (``DatasetWriter.__del__`` -> ``finalize``) stops it anyway at
        interpreter exit, and a thread whose write failed then logs after the recorder's one
        error line. Committed episodes are not touched; the partial one is left to make repair.
        """
        with contextlib.suppress(Exception):
            self.ds.writer.cancel_pending_videos()

    def finish(self) -> None:
        """LeRobot's finalize (idempotent); every file is already closed and fsynced."""
        self.ds.finalize()


def _plain(value):
    """A frame value as JSON (numpy arrays and scalars as lists / numbers, exact for float32)."""
    tolist = getattr(value, "tolist", None)
    return tolist() if tolist else value
