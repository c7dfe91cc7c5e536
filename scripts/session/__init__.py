"""The session runner shared by ``make record`` (now) and ``make rollout`` (robot evaluation,
later): episodes and resets on a measured clock, terminal keys, a crash-safe v3.0 writer.
Read ``runner`` first (the loop and its plug-in points), then ``writer`` (what is on disk when).

- ``runner``   ``Session(cfg, hooks, sink, keys).run()``: episode / reset phases with timers;
               ``hooks.tick(phase) -> frame | None`` is the control step (leader arm or policy)
- ``clock``    ``TickClock``: absolute deadlines, the real period of every tick, missed ticks,
               per-episode summary (mean rate, p99 period, missed, slow below 95 % of FPS)
- ``keys``     ``TerminalKeys``: n / r / q (and arrows, Esc) from a raw-mode tty, over SSH;
               s / f / p / a labels with ``labels=True`` (``make rollout``)
- ``writer``   ``CrashSafeWriter``: LeRobot 0.6.1's LeRobotDataset (create/resume, add_frame,
               save_episode, finalize), one file set per episode, closed, fsynced, journaled
- ``journal``  the recording's marker, journal and tick files beside the LeRobot files
- ``exact``    exact float64 stats installed in place at the end (scripts.fix_stats' code)
- ``repair``   ``make repair``: a dataset of every complete episode after a crash
- ``report``   the JSON (schema-checked) + PNG + table, through scripts/report

``runner``, ``clock``, ``keys``, ``journal`` and ``repair`` import no LeRobot (tools env);
``writer`` runs in envs/act.
"""
