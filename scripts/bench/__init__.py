"""``make bench``: side-by-side benchmarks (ours vs LeRobot vs ``cp -r``); never part of CI.

Read ``convert`` first (``make bench-convert``; ``convert_floor`` is its work floor), then
``validate`` (``make bench-validate``) and ``corpus``: the validator's mutation corpus, which
the validator's corpus test shares.
"""
