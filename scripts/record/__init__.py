"""``make record`` / ``make record-sim``: teleoperated recording into a crash-safe v3.0 dataset.
Read ``__main__`` first (the order: preflight, connect, session, finish), then ``preflight``.

The loop, keys, timing and the writer are the shared session runner (``scripts.session``);
this package only plugs the leader arm in (``Teleop.tick``) and checks the hardware first.
``sim`` runs the same recorder against the Dynamixel simulator with replayed cameras.
"""
