"""``make fix-stats``: exact per-episode and dataset stats for a v3.0 dataset already recorded.
Read ``__main__`` first (the command line), then ``recompute``.

Any dataset recorded or converted with LeRobot 0.6.x carries its float32 ``E[x^2] - E[x]^2``
std (0 or 10x too large on features far from zero). This writes a corrected copy beside it,
never touching the original: ``recompute`` computes the stats from the parquet rows,
``rewrite`` builds the new tree (data and videos reflinked or copied; hard-linked and
read-only only on request: ``clone``) and ``cli`` publishes it atomically after validating it.
"""
