"""``make migrate``: a pre-0.4 (LeRobot 0.3.x) ACT checkpoint -> a LeRobot 0.6.1 checkpoint, proven.

Old checkpoints keep their normalisation stats as buffers inside the model
(``normalize_inputs.buffer_<key>.mean`` ...); 0.4+ keeps them in pre/post-processor files.
``scripts.migrate.migrate`` (act env, LeRobot 0.6.1) uses LeRobot's own
``lerobot.processor.migrate_policy_normalization`` functions for the extraction, but never its
``main`` (which validates a model card against the Hub and fails offline), writes into a temporary
folder beside DST, and renames it to DST only after the proof: the old checkpoint runs in the
legacy env (``scripts.migrate.legacy``, LeRobot 0.3.3) and the new one in the act env on the same
frames, and every action of every chunk must agree within 1e-5 (absolute, the dataset's units).
``DST/migration.json`` records frames compared, max abs difference per action dimension, versions
and each case handled.
"""
