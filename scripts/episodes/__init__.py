"""Episode selection shared by every capability that works on some episodes of a dataset.

Evaluation (``make eval EPISODES=...``) uses it first; dataset editing, the validator's verdicts,
robot rollout and recording are meant to take the same syntax so a user learns it once.
Pure Python plus pyarrow (no torch, no LeRobot): the tools env and every LeRobot env import it.

Read ``select.py`` first (the syntax and its rules), then ``table.py`` (what it reads from a
v3.0 dataset: each episode's index, first task and length).
"""
