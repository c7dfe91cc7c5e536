"""Scale-out on Slurm: a local two-node cluster, multi-node ``make train``, conversion fan-out.
Read ``train`` first (``make train ... SLURM=1``), then ``fanout``.

Why a package of small modules: each runs in a different place (the login node, the batch
host, every compute node) and with a different environment (``tools`` has no torch), so each
module does one job and imports only what that place has:

- ``procs``      /proc helpers: liveness that zombies cannot fool, processes of one cluster
- ``local``      ``make slurm-local`` / ``slurm-local-down`` (Debian's Slurm + munge, no systemd)
- ``client``     which cluster the commands talk to; sbatch, squeue, job state and exit code;
                 the shared batch-script head and the array + follow-up submission
- ``ckpt``       checkpoint completeness, repair and settle (run inside the training job)
- ``train``      ``make train ... SLURM=1``: preflight, the sbatch script, submit, wait
- ``fanout``     ``make convert-many ... SLURM=1``: plan, array job + afterany report job
- ``fanout_job`` what those array and report tasks run on the nodes
"""
