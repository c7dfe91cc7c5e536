"""``make fit``: predict a recipe's peak GPU memory without a GPU, and measure it where one exists.
Read ``predict`` first (the verdict and the constants it adds), then ``step``.

One real training step (forward, loss, backward, clip, AdamW foreach) of the real LeRobot 0.6.1
policy class runs under PyTorch ``FakeTensorMode`` on ``cpu``: every tensor has a shape, dtype and
storage size but no data, so a 3.5 B-parameter PI0 step costs seconds of CPU and no memory.
A dispatch-mode tracker adds up the bytes of live storages as the step runs; its maximum is the
prediction. Modules, one job each:

- :mod:`scripts.fit.shapes`      dataset feature shapes (a dataset's info.json, the sample, GR2)
- :mod:`scripts.fit.vlm_configs` SmolVLM2-500M / PaliGemma configs built offline, with sources
- :mod:`scripts.fit.shims`       the few documented patches fake tensors need
- :mod:`scripts.fit.autocast`    CUDA's autocast casting rules, applied on a CPU-only box
- :mod:`scripts.fit.tracker`     live storage bytes and their peak
- :mod:`scripts.fit.build`       policy, batch and optimizer from a recipe
- :mod:`scripts.fit.step`        the one training step shared by prediction and measurement
- :mod:`scripts.fit.predict`     prediction, verdict, largest batch that fits
- :mod:`scripts.fit.report`      text / JSON output and the README table
- :mod:`scripts.fit.run`         the part that runs in the recipe's env (JSON on stdout)
- :mod:`scripts.fit.agree`       real vs fake tensors on CPU (the agreement test)
- :mod:`scripts.fit.guide`       the hardware guide's conditions: reserved, context, nvidia-smi
- :mod:`scripts.fit.measure`     ``MEASURE=1``: real CUDA steps, appended to ``ops.measured``
- ``python -m scripts.fit``      the launcher ``make fit`` / ``make fit-all`` call (tools env)
"""
