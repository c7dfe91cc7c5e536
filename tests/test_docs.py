"""The docs and the Makefile stay in step (issue 30): docs/*.md and README.md against the targets.

Rules, checked on the real files and, in the self-tests, on copies made wrong on purpose:

1. Every target ``make help`` lists (a ``target: ... ## text`` line) is named as ``make TARGET``
   in some page of docs/ (README.md does not count: it is the front door, not the reference).
2. Every ``make X`` a page (docs/*.md or README.md) names is a target of the Makefile (an
   explicit rule, or a pattern rule such as ``env-%``).
3. Every knob a page names in ``make X ... VAR=value`` form (also ``[VAR=...]``) is read by one
   of the goals on that command line. A goal *reads* VAR when
   - VAR is named in its rule (prerequisites or recipe) as a make variable: an upper-case word
     not directly followed by ``=`` (so ``make train ... SLURM=1`` inside an error message does
     not count), or in the definition of a variable it reads (transitively: ``CHECKPOINT``
     reads ``CKPT`` and ``OUT``), or by a prerequisite or a ``$(MAKE) target`` it runs;
   - or VAR is exported to every recipe (an ``export`` line of the Makefile);
   - or the program its recipe runs (``-m scripts.x.y`` / ``scripts/...sh``, whole package)
     reads VAR from the environment: make puts command-line variables into the environment
     of every recipe, so ``make envs LEROBOT_SRC=dir`` reaches scripts/envs.sh.

Only code is read: inline ``code`` spans and fenced blocks, where a command is written;
``make`` in prose is a verb. Fast (no make run except ``make help``, ~10 ms).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from conftest import REPO

PAGES = sorted((REPO / "docs").glob("*.md"))
README = REPO / "README.md"

_RULE = re.compile(r"^([A-Za-z0-9_%.-][A-Za-z0-9_%. -]*?)\s*:(?![=])\s*(.*)$")
_ASSIGN = re.compile(r"^(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*(?:\?=|:=|\+=|=)\s*(.*)$")
_UPPER = re.compile(r"\b([A-Z][A-Z0-9_]*)\b(?!=)")
_MODULE = re.compile(r"-m\s+(scripts(?:\.\w+)+|validators)\b")
_SCRIPT = re.compile(r"\b((?:scripts|tests)/[\w/.-]+\.(?:sh|py))\b")
_MAKE_CALL = re.compile(r"\$\(MAKE\)((?:\s+[a-z][\w-]*)+)")


@dataclass
class Makefile:
    """What the checker needs of a Makefile: targets, what each reads, the help list."""

    path: Path
    variables: dict[str, str] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    rules: dict[str, str] = field(default_factory=dict)  # target -> prerequisites + recipe
    prereqs: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, path: Path) -> Makefile:
        mk = cls(path)
        current: list[str] = []
        for raw in path.read_text().splitlines():
            if raw.startswith("\t"):
                for t in current:
                    mk.rules[t] += "\n" + raw
                continue
            line = raw.split(" ## ")[0].split("#")[0] if not raw.startswith("#") else ""
            current = []
            if m := _ASSIGN.match(line):
                mk.variables[m[1]] = m[2]
                if line.startswith("export"):
                    mk.exported.add(m[1])
                continue
            if line.startswith("export "):
                mk.exported |= set(line.split()[1:])
                continue
            if (m := _RULE.match(line)) and not line.startswith("."):
                current = m[1].split()
                for t in current:
                    mk.rules.setdefault(t, "")
                    mk.rules[t] += " " + m[2]
                    mk.prereqs.setdefault(t, []).extend(
                        w for w in re.sub(r"\$\([^)]*\)", " ", m[2]).split() if "$" not in w
                    )
        return mk

    def help_targets(self) -> list[str]:
        """The targets ``make help`` prints, from make itself."""
        proc = subprocess.run(
            ["make", "-s", "-f", str(self.path), "help"],
            cwd=self.path.parent, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return re.findall(r"^  make (\S+)", proc.stdout, re.M)

    def rule_for(self, target: str) -> str | None:
        if target in self.rules:
            return target
        for t in self.rules:
            if "%" in t and re.fullmatch(re.escape(t).replace("%", ".+"), target):
                return t
        return None

    def _vars_in(self, text: str) -> set[str]:
        return {v for v in _UPPER.findall(text) if v in self.variables or v == "MAKE"}

    def reads(self, target: str) -> set[str]:
        """Every knob ``make target VAR=...`` can reach (rules 3a-3c of the module docstring)."""
        seen_t: set[str] = set()
        todo = [target]
        names: set[str] = set()
        text = ""
        while todo:
            t = self.rule_for(todo.pop())
            if t is None or t in seen_t:
                continue
            seen_t.add(t)
            body = self.rules[t]
            text += body
            names |= self._vars_in(body)
            todo += self.prereqs.get(t, [])
            for m in _MAKE_CALL.finditer(body):
                todo += m[1].split()
        closure = set()
        while names:
            v = names.pop()
            if v in closure:
                continue
            closure.add(v)
            value = self.variables.get(v, "")
            names |= self._vars_in(value)
            text += " " + value
        closure |= self.exported
        return closure | self._env_reads(text)

    def _env_reads(self, text: str) -> set[str]:
        """Environment variables the programs named in ``text`` read (rule 3c)."""
        root = self.path.parent
        files: list[Path] = []
        for mod in _MODULE.findall(text):
            base = root / mod.replace(".", "/")
            files += sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
        files += [root / s for s in _SCRIPT.findall(text)]
        for v in _UPPER.findall(text):  # scripts named through a variable: ENVS = scripts/envs.sh
            files += [root / s for s in _SCRIPT.findall(self.variables.get(v, ""))]
        src = "\n".join(f.read_text() for f in files if f.is_file())
        env = re.findall(r"""environ(?:\.get)?\s*[\[(]\s*["']([A-Z_][A-Z0-9_]*)["']""", src)
        env += re.findall(r"""getenv\(\s*["']([A-Z_][A-Z0-9_]*)["']""", src)
        env += re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", src)
        return set(env)


@dataclass
class Command:
    page: str
    goals: list[str]
    knobs: list[str]
    text: str


_CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)
_TOKEN = re.compile(r"""\[?([A-Z_][A-Z0-9_]*)=(?:"[^"]*"|'[^']*'|[^\s\]`]*)\]?|(\S+)""")
_STOP = {"&&", "&", "||", "|", ";", "#", ")", "then", "and", "or", "(also", "/"}


def commands(page: Path) -> list[Command]:
    """Every ``make ...`` command line written in a page's code."""
    out = []
    text = page.read_text()
    for m in _CODE.finditer(text):
        code = m[1] if m[1] is not None else m[2]
        for line in code.splitlines():
            line = re.split(r"(?:^|\s)#", line)[0]  # a shell comment is prose
            for part in line.split(";"):
                out += _parse(page.name, part)
    return out


def _parse(page: str, line: str) -> list[Command]:
    """The ``make`` commands on one line: goals until the first word that is not one."""
    out = []
    for start in re.finditer(r"(?:^|[\s(&|])make(?=\s|$)", line):
        goals, knobs, skip = [], [], False
        for tok in _TOKEN.finditer(line[start.end() :]):
            if tok[1]:
                knobs.append(tok[1])
                continue
            word = tok[2]
            if skip:
                skip = False
            elif word in _STOP or word.startswith(("#", "`", "$", "<", "make")):
                break
            elif word in ("-C", "-f"):
                skip = True  # its argument is a path, not a goal
            elif word.startswith("-") or word in ("...", "[...]"):
                continue
            elif re.fullmatch(r"[a-z][a-z0-9-]*", word):
                goals.append(word)
            else:
                break
        if goals or knobs:
            out.append(Command(page, goals, knobs, line.strip()))
    return out


def problems(makefile: Path, pages: list[Path], readme: Path | None) -> list[str]:
    """Every way the pages and the Makefile disagree, one line each (empty: in step)."""
    mk = Makefile.parse(makefile)
    found = []
    named_in_docs: set[str] = set()
    for page in [*pages, *([readme] if readme else [])]:
        for cmd in commands(page):
            if page in pages:
                named_in_docs |= set(cmd.goals)
            for g in cmd.goals:
                if mk.rule_for(g) is None:
                    found.append(f"{cmd.page}: make {g}: no such target ({cmd.text})")
            goals = cmd.goals or ["help"]  # bare `make` runs the default goal
            read = set().union(*(mk.reads(g) for g in goals if mk.rule_for(g)))
            for k in cmd.knobs:
                if k not in read:
                    found.append(f"{cmd.page}: {k}= is read by none of {goals} ({cmd.text})")
    for t in mk.help_targets():
        if t not in named_in_docs:
            found.append(f"make {t}: in make help but on no page of docs/")
    return found


def test_docs_and_makefile_agree() -> None:
    assert PAGES, "docs/ has no pages"
    assert problems(REPO / "Makefile", PAGES, README) == []


def test_a_new_target_without_a_page_is_reported(tmp_path: Path) -> None:
    """The checker is not vacuous: a target added to a copy of the Makefile, on no page, fails."""
    copy = tmp_path / "Makefile"
    shutil.copy(REPO / "Makefile", copy)
    text = copy.read_text().replace(
        "##@ Help", "frobnicate: ## a target nobody documented\n\t@true\n\n##@ Help"
    )
    copy.write_text(text)
    assert problems(copy, PAGES, README) == [
        "make frobnicate: in make help but on no page of docs/"
    ]


def test_a_page_naming_a_missing_target_or_knob_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Run `make convert SRC=dir NOSUCH=1`, then `make frobnicate`.\n\n"
        "```bash\nmake robot ROBOT=koch CHECKPOINT=x   # and make tunnel GPU_HOST=h\n```\n"
    )
    found = problems(REPO / "Makefile", [*PAGES, page], None)
    assert any(f.startswith("page.md: NOSUCH= is read by none of ['convert']") for f in found)
    assert any(f.startswith("page.md: make frobnicate: no such target") for f in found)
    assert len(found) == 2, found


def test_the_rule_sees_knobs_through_variables_and_the_environment() -> None:
    """CHECKPOINT reads CKPT/OUT; demo reaches convert's SRC; envs.sh reads LEROBOT_SRC."""
    mk = Makefile.parse(REPO / "Makefile")
    assert {"CKPT", "OUT", "HOST", "PORT"} <= mk.reads("serve")
    assert {"SRC", "DST", "DATASET", "RECIPE"} <= mk.reads("demo")
    assert "LEROBOT_SRC" in mk.reads("envs")
    assert "DATA_DIR" in mk.reads("lint")  # exported to every recipe
    assert "SLURM_ARGS" not in mk.reads("convert")
