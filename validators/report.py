"""Findings and the report the validator returns.

Kept free of heavy imports so the converter and the launcher can import the types cheaply.
A finding names a stable check id (``group.name``) so that scripts, tests and users can
grep for it; the id never changes once published, the message may.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

GROUPS = ("schema", "structure", "data", "video", "stats", "behaviour", "readiness")

# Per check id, at most this many findings are kept; the rest are counted, not stored, so a
# dataset with 10k broken episodes still gives a readable report.
MAX_FINDINGS_PER_CHECK = 50


@dataclass(frozen=True)
class Finding:
    """One problem: what (check id), how bad, where (file, episode), and how to fix it."""

    check_id: str
    severity: Severity
    file: str | None
    episode: int | None
    message: str
    hint: str
    feature: str | None = None  # behavioural findings: the feature (or camera) concerned
    frames: tuple[int, int] | None = None  # ... and the frame range within the episode

    @property
    def group(self) -> str:
        return self.check_id.split(".", 1)[0]


@dataclass
class Report:
    """What one validation run saw and found."""

    root: str
    version: str
    mode: str  # "quick" | "standard" | "deep"
    recipe: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    suppressed: dict[str, int] = field(default_factory=dict)  # check id -> findings not stored
    timings: dict[str, float] = field(default_factory=dict)  # group -> seconds
    groups_run: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def check_ids(self) -> set[str]:
        return {f.check_id for f in self.findings}

    def ok(self, strict: bool = False) -> bool:
        """No errors (and, when strict, no warnings either)."""
        return not self.errors and not (strict and self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "format_version": self.version,
            "mode": self.mode,
            "recipe": self.recipe,
            "summary": self.summary,
            "errors": len(self.errors) + self._suppressed_count("error"),
            "warnings": len(self.warnings) + self._suppressed_count("warning"),
            "findings": [_finding_dict(f) for f in self.findings],
            "drop_episodes": self.drop_episodes(),
            "suppressed": self.suppressed,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "groups_run": self.groups_run,
        }

    def drop_episodes(self) -> list[int]:
        """Every episode a finding names (errors, and per-episode warnings): what
        ``EPISODES=~@report.json`` (scripts/episodes/select.py) leaves out."""
        return sorted({f.episode for f in self.findings if f.episode is not None})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def _suppressed_count(self, severity: str) -> int:
        sev = {f.check_id: f.severity for f in self.findings}
        return sum(n for cid, n in self.suppressed.items() if sev.get(cid) == severity)


def _finding_dict(f: Finding) -> dict[str, Any]:
    """A finding as JSON; ``feature``/``frames`` only where a check sets them."""
    d = asdict(f)
    for k in ("feature", "frames"):
        if d[k] is None:
            del d[k]
        elif k == "frames":
            d[k] = list(d[k])
    return d
