"""Add DELTA to one tensor of a .safetensors file in place (run in envs/act; tests only).

``python tests/helpers/migrate_edit_stats.py FILE KEY DELTA``: how the tests make a checkpoint
with a deliberately wrong stats buffer (an old model's ``normalize_targets.buffer_action.std``, a
migrated copy's ``observation.state.std``) without any hook in the product code.
"""

import sys

from safetensors.torch import load_file, save_file

path, key, delta = sys.argv[1], sys.argv[2], float(sys.argv[3])
tensors = load_file(path)
if key not in tensors:
    sys.exit(f"{path} has no tensor {key!r}: {sorted(tensors)[:8]}")
tensors[key] = tensors[key] + delta
save_file(tensors, path, metadata={"format": "pt"})
