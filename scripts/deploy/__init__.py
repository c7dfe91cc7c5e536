"""`make serve` / `make robot`: LeRobot 0.6.1's async inference, safe by default.
Read ``server`` and ``client`` first (what ``make serve`` and ``make robot`` run).

LeRobot's own ``PolicyServer`` and ``RobotClient`` do the work; these modules configure, wrap
and patch them at run time (one job per module):

- ``lerobot_io``   imports the async modules without them writing ``./logs`` into the cwd
- ``safe_pickle``  the restricted unpickler that replaces ``pickle.loads`` on both sides
- ``health``       the standard ``grpc.health.v1`` service and its probe
- ``checkpoint``   checkpoint allow-list and feature comparison (no torch: usable anywhere)
- ``server``       ``SafePolicyServer`` and ``python -m scripts.deploy.server``
- ``profiles``     robot profiles (``recipes/robots/*.yaml``) -> LeRobot's ``RobotClientConfig``
- ``client``       ``SafeRobotClient`` and ``python -m scripts.deploy.client``
- ``report``       the end-of-run report (JSON + PNG)
- ``check``        ``make serve-check``: the health probe from the command line
- ``bench``        ``make bench-serve``: the replay loop through ours and through stock LeRobot
- ``certs.sh``     ``make certs``: CA, server and client certificates for mutual TLS
"""
