"""Offline evaluation (issue 23): ``make eval`` ranks checkpoints on held-out episodes.

Read ``run.py`` first: it is the whole flow in one page (plan, predict, score, rank, report).
Then, one job per module:

- ``__main__.py``: the tools-env launcher; checks every input, then execs the policy's env;
- ``cli.py``: the arguments and the one-line error policy;
- ``plan.py``: checkpoints + dataset + episodes + outputs, all checked before any frame;
- ``checkpoints.py``: pretrained_model / checkpoint folder / run folder + STEP, safetensors
  header check, which env runs the policy (pure Python);
- ``features.py``: does the checkpoint fit the dataset (cameras, shapes, action size);
- ``frames.py``: batches frames through ``predict_action_chunk`` with the policy's own
  processors (torch, LeRobot);
- ``metrics.py``: masked errors in dataset units, spread, bootstrap ranking (NumPy);
- ``report.py`` / ``plot.py``: the JSON document, the terminal table, the PNG;
- ``bench.py``: ``make bench-eval``.

Shared with other capabilities: ``scripts/episodes`` (EPISODES syntax) and ``scripts/report``
(atomic, schema-checked reports).
"""
