"""Deterministic synthetic LeRobot v2.x datasets (the toolkit's embedded sample).
Read ``make`` first (``make sample``, and the API the tests import).

Public API lives in :mod:`scripts.sample.make`; the modules here each do one job:
``spec`` (what to build), ``frames`` (pixels and barcodes), ``signals`` (state/action),
``stats`` (per-episode stats as LeRobot 0.3.3 computed them), ``video`` (encode/probe mp4),
``writer`` (lay the files out and publish atomically).
"""
