"""``make edit``: cut, split, merge, trim, downsample, rename v3.0 datasets into a new copy.
Read ``plan`` first (every operation becomes a list of output episodes, each a frame range of
one source episode), then ``pipeline`` (the order of the stages); ``__main__`` is the command
line (``python -m scripts.edit``).

plan      read the sources, turn OP + knobs into outputs of (source, episode, frames) pieces
idle      which frames move (OP=trim-idle): the still head and tail, by a motion threshold
data      rewrite the surviving rows with pyarrow: episode_index 0..N-1, index = row position
video     stream-copy each surviving piece's packets; re-encode only a file that must be
metadata  meta/episodes, tasks.parquet, info.json (totals, splits, features)
stats     exact float64 stats of the new rows (scripts.fix_stats.recompute), stats.json
publish   temp folder beside DST, the output marker, FORCE=1, the final rename
pipeline  the stages in order, one log line each, the before/after summary

The source is only ever read. LeRobot 0.6.1's ``lerobot-edit-dataset`` differs where its users
lost data: it can edit in place and then deletes its ``_old`` backup (LeRobot #2712; here DST
must be a new folder, never a source), its merge can point episodes at the wrong video file
(#3883; here every from/to timestamp is computed from the packets actually written), and its
split rounds fractions with ``int()`` and gives the last split the rest (#2547; here the
boundaries are ``round(N x cumulative fraction)`` in exact decimals, nothing more).
"""
