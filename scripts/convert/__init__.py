"""Offline LeRobot v2.x -> v3.0 dataset converter, split into one job per module.
Read ``pipeline`` first (the order of the passes); ``__main__`` is ``python -m scripts.convert``.

plan      read and check the source, decide the renumbering (old -> new episode index)
stats     LeRobot 0.6.1's statistics (RunningQuantileStats, aggregate_stats) in numpy
data      stream episode parquet files into size-capped v3.0 data files
video     stream-copy (remux) episode mp4s into size-capped files, per camera, in parallel
metadata  info.json, tasks.parquet, meta/episodes/*.parquet (from on-disk spools), stats.json
verify    structural validation plus a SRC vs DST equivalence check
publish   temp dir beside DST, crash leftovers, atomic rename into place
aggregate stats.json from the per-episode stats, as LeRobot's converter does
workers   process pool: camera copies and image-stats shards on every core
nopandas  keep pandas (imported by pyarrow on first use) out of the converter
chunks    the file-numbering rule (MB, next_chunk_file) data, metadata and video share
killpoints  the crash points the safety tests die at (pipeline and workers both call them)
"""
