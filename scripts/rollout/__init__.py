"""``make rollout``: robot evaluation sessions, N episodes per checkpoint through our server.

Read ``stats`` first (what the session is for: a success rate per checkpoint with a 95 %
Wilson interval and Fisher's exact test of A vs B), then ``schedule`` (the blind order),
``labels`` (the operator's s / f / p / a keys), ``report`` and ``__main__`` (the session).

- ``stats``     Wilson interval, exact two-sided Fisher test, rates from labelled episodes
- ``schedule``  blind, interleaved, block-randomised order from a printed seed
- ``labels``    the label prompt after each episode over the terminal (scripts.session.keys)
- ``report``    JSON (validators/schemas/rollout_report.schema.json) + PNG + table
- ``__main__``  ``make rollout``: the scripts.session runner with a policy hook

``stats``, ``schedule``, ``labels`` and ``report`` import no LeRobot (tools env).
"""
