"""Report writing shared by every capability: JSON checked against a schema, PNG, terminal table.

Evaluation uses it first; the validator's verdicts, dataset editing, rollout and recording are
meant to write their reports through it so every report is atomic, schema-checked and looks
alike. No torch, no LeRobot: the tools env and every LeRobot env import it (matplotlib is
imported only when a PNG is written).

API (read ``atomic.py`` first):

- ``atomic.output_problem(path, knob)`` -> why a report cannot be written there, or None; call
  it *before* the long work so a typo in JSON= fails in a second, not after an hour.
- ``atomic.write_bytes(path, data)`` / ``write_text``: tmp file beside the target + rename, so
  a reader never sees half a report and a crash leaves the old one.
- ``jsonfile.write_json(path, obj, schema)``: validate ``obj`` against a JSON Schema file
  (validators/jsonschema_lite, draft 2020-12 subset) and write it atomically; a violation
  raises ``ReportError`` naming the JSON path and writes nothing.
- ``png.save_figure(fig, path)``: a matplotlib figure (Agg backend) written atomically.
- ``table.render(headers, rows)``: a plain-text table for the terminal and logs.
"""
