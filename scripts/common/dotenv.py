"""Read ``.env`` exactly as direnv's ``dotenv`` does, and write it as make assignments.

Why: make's own ``include .env`` disagrees with direnv: ``DATA_DIR=/data/lab  # note`` gives
make ``/data/lab`` plus trailing blanks, ``DATA_DIR="/data/my lab"`` keeps the quotes, while
direnv gives ``/data/lab`` and ``/data/my lab``. cron has no direnv, so make must read the file
the same way. The Makefile includes what this prints (regenerated when ``.env`` changes).

direnv's rules, followed here: ``[export] KEY=value``; an unquoted value ends at ``#`` and loses
surrounding blanks, and may not contain blanks; ``'...'`` is literal; ``"..."`` knows ``\\"``,
``\\\\`` and ``\\n``; after a quoted value only blanks and a ``# comment`` may follow.

Usage: python -m scripts.common.dotenv .env   (stdlib only: runs before any environment exists)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
DOUBLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "$": "$"}


class DotenvError(ValueError):
    """One bad line, named by its number."""


def _quoted(raw: str, quote: str) -> tuple[str, str]:
    """(value, rest of the line) for a value opening with ``quote``."""
    out: list[str] = []
    i = 1
    while i < len(raw):
        ch = raw[i]
        if ch == quote:
            return "".join(out), raw[i + 1 :]
        if quote == '"' and ch == "\\" and i + 1 < len(raw):
            out.append(DOUBLE_ESCAPES.get(raw[i + 1], "\\" + raw[i + 1]))
            i += 2
            continue
        out.append(ch)
        i += 1
    raise DotenvError(f"no closing {quote}")


def parse_value(raw: str) -> str:
    if raw[:1] in ("'", '"'):
        value, rest = _quoted(raw, raw[0])
        if rest.strip() and not rest.strip().startswith("#"):
            raise DotenvError(f"text after the closing quote: {rest.strip()!r}")
        return value
    value = raw.split("#", 1)[0].strip()
    if any(c.isspace() for c in value):
        raise DotenvError('a value with blanks must be quoted (KEY="a b"), as direnv requires')
    return value


def parse(text: str) -> dict[str, tuple[int, str]]:
    """KEY -> (line number, value); raise DotenvError naming the line."""
    out: dict[str, tuple[int, str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise DotenvError(f"line {n}: not KEY=value: {line.strip()!r}")
        try:
            out[m[1]] = (n, parse_value(m[2]))
        except DotenvError as exc:
            raise DotenvError(f"line {n}: {m[1]}: {exc}") from exc
    return out


def make_text(values: dict[str, tuple[int, str]]) -> str:
    """``KEY := value`` and ``export KEY`` lines; make's ``$`` and ``#`` escaped."""
    lines = []
    for key, (_, value) in values.items():
        if "\n" in value:
            raise DotenvError(f"{key}: a newline in a value cannot reach make")
        lines += [
            f"{key} := {value.replace('$', '$$').replace('#', chr(92) + '#')}",
            f"export {key}",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path = Path(args[0])
    try:
        text = make_text(parse(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, DotenvError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        # An error line make shows and stops on, naming the file and the line.
        safe = reason.replace("$", "$$").replace("(", "[").replace(")", "]")
        print(f"$(error {path}: {safe})")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
