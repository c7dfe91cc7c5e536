"""Dataset validator for LeRobot v2.1 / v3.0 datasets (issue 4).
Read ``runner`` first (the order of the check groups); ids in ``checks``.

API: ``from validators.runner import validate_dataset``; CLI: ``python -m validators DATASET``.
Runs in the light tools env: no torch, no LeRobot.
"""
