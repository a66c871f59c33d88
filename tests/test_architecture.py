"""The import graph of bot/ follows DESIGN.md's module table ("Architecture": who may import whom).

Each top-level unit of ``bot/`` (a package or a module) may import only the units its row names.
A new dependency is a design decision: change DESIGN's table (propose it in the issue's note) and
``MAY_IMPORT`` here together, never one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"

# DESIGN.md "Architecture", row by row ("all of the above" and "anything" spelled out). Four
# entries go beyond today's table and are proposed for it in issue 14's note, each marked here.
MAY_IMPORT: dict[str, set[str]] = {
    "domain": set(),
    "datafile": {"domain"},
    "i18n": {"domain", "datafile"},
    "flowdef": {"domain", "datafile", "i18n"},
    "understanding": {"domain", "i18n"},
    "engine": {"domain", "i18n", "flowdef", "understanding"},
    "content": {"domain", "datafile", "i18n", "flowdef", "engine", "store"},
    "store": {"domain", "engine", "datafile"},  # proposed: the resource directory is read from YAML data files
    "channels": {"domain"},
    "handoff": {"domain", "store"},
    "service": {"domain", "datafile", "i18n", "flowdef", "understanding", "engine", "content", "store", "channels", "handoff", "config"},
    "web": {"service", "domain", "channels", "config", "runtime"},  # proposed: config and runtime, what the app is built from and starts
    # One row in DESIGN ("worker, runtime"): each may import the other.
    "worker": {"service", "channels", "runtime", "store"},  # proposed: store, the outbox it drains
    "runtime": {"service", "channels", "worker", "config"},  # proposed: config, the settings it wires from
    "config": {"domain", "handoff"},  # proposed: handoff, to refuse an office-hours schedule it cannot read at start
    "cli": {"*"},
    "__main__": {"cli"},
}


def unit_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "bot" and len(parts) > 1 else None


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_every_import_in_bot_follows_the_design_table():
    crossings = []
    for path in sorted(BOT.rglob("*.py")):
        relative = path.relative_to(BOT.parent).with_suffix("")
        unit = unit_of(".".join(relative.parts))
        if unit == "__init__":  # bot/__init__.py: the package's version, nothing else
            continue
        assert unit in MAY_IMPORT, f"{relative}: unit {unit!r} is not in DESIGN's module table"
        allowed = MAY_IMPORT[unit]
        for imported in imports_of(path):
            target = unit_of(imported)
            if target and target != unit and "*" not in allowed and target not in allowed:
                crossings.append(f"{relative}.py: {unit} imports {imported} ({target} is not in its row)")
    assert crossings == [], "\n".join(crossings)


def test_nothing_outside_the_tests_imports_them():
    """The benchmarks, testkit (what the tests and the benchmarks share) and the bot never import
    the test suite, neither as ``tests`` nor by a test module's own name (as pytest, putting
    ``tests/`` on the path, lets the tests import each other): a refactoring of the tests must not
    break a benchmark unseen."""
    root = BOT.parent
    test_modules = {"tests"} | {path.stem for path in (root / "tests").glob("*.py")}
    crossings = []
    for folder in ("bench", "testkit", "bot"):
        for path in sorted((root / folder).rglob("*.py")):
            for imported in imports_of(path):
                if imported.split(".")[0] in test_modules:
                    crossings.append(f"{path.relative_to(root)}: imports {imported}")
    assert crossings == [], "\n".join(crossings)
