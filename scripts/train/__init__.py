"""``make train`` / ``make smoke`` / ``make weights-import``: the training launcher.
Read ``cli`` first (``make train``: plan, print, launch).

The launcher runs in the light tools env (no torch) so every check fails in about a second;
lerobot-train itself runs from the recipe's environment (envs/act or envs/smolvla), and so do
``smoke_check``, ``make_tiny_smolvla`` and the option listing of ``options``. Modules, one job
each:

- ``recipes``           load, list, pick by GPU size, turn into lerobot-train arguments
- ``gpu``               detect GPUs (nvidia-smi) and check a recipe's memory budget
- ``preflight``         the checks before launch: env, GPU, dataset, weights, validation
- ``derive``            dataset-specific arguments: state/action dims, camera renames, repo id
- ``holdout``           ``HOLDOUT``/``EVAL_EVERY``: which episodes LeRobot holds out, and why
- ``options``           ``ARGS`` overrides against lerobot-train's real options (cached per env)
- ``guard``             lerobot-train stopped at the first NaN/Inf loss or gradient (its env)
- ``run``               run lerobot-train into <OUT>/train.log; read a run directory's state
- ``cli``               ``python -m scripts.train`` (``make train``): plan, print, launch
- ``smoke``             ``make smoke``: a few steps, then the checkpoint reloads and acts
- ``smoke_check``       the reload and select_action, inside the recipe's env
- ``make_tiny_smolvla`` the tiny random SmolVLM2 the CPU SmolVLA smoke trains against
- ``weights_import``    ``make weights-import``: offline weights where LeRobot looks
- ``plot_loss``         ``make plot``: the loss curve from train.log (also the bench's figures)

Nothing is imported here: ``scripts.fit`` and ``scripts.slurm`` import single modules
(``recipes`` even in a LeRobot env) without pulling in the launcher.
"""
