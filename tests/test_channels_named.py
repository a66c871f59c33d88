"""Outside ``bot/channels/`` (its registry included) and configuration, no module names a channel
provider in code: what is Telegram's or Twilio's lives in that channel's folder, behind the
``ChannelAdapter`` protocol (DESIGN "Architecture"; issue 14 item 1).

Code means what Python runs: names, attributes, imports, arguments and string literals other than
docstrings (prose that explains behaviour with an example may name a provider, as comments do).
Configuration's own names (the fields of ``bot.config``'s settings, e.g.
``advocate_telegram_chat``) may be read anywhere. Two modules are excepted, each for a reason a
newcomer can check:

- ``bot/domain/messages.py``: the ``Channel`` enum, whose values are part of every pseudonym;
- ``bot/cli/``: the composition root, whose public commands name a provider
  (``safeharbor telegram set-webhook``, ``serve --telegram-polling``).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import bot.config

BOT = Path(__file__).resolve().parent.parent / "bot"
PROVIDERS = re.compile(r"telegram|twilio", re.IGNORECASE)
ALLOWED = {Path("channels"), Path("config"), Path("domain/messages.py"), Path("cli")}


def configuration_names() -> set[str]:
    names: set[str] = set()
    for value in vars(bot.config).values():
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            names |= {f.name for f in dataclasses.fields(value)}
            names |= {n for n, v in vars(value).items() if isinstance(v, property)}
    return names


def docstrings(tree: ast.AST) -> set[int]:
    """``id`` of every docstring constant in ``tree``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def named(tree: ast.AST, allowed_names: set[str]) -> list[tuple[int, str]]:
    """(line, what) for each place ``tree``'s code names a provider."""
    skip = docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        words: list[str] = []
        if isinstance(node, ast.Name):
            words = [node.id]
        elif isinstance(node, ast.Attribute):
            words = [node.attr]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            words = [node.name]
        elif isinstance(node, ast.arg):
            words = [node.arg]
        elif isinstance(node, ast.keyword) and node.arg:
            words = [node.arg]
        elif isinstance(node, ast.alias):
            words = [node.name, node.asname or ""]
        elif isinstance(node, ast.ImportFrom):
            words = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            words = [node.value]
        for word in words:
            if word and word not in allowed_names and PROVIDERS.search(word):
                hits.append((getattr(node, "lineno", 0), word[:60]))
    return hits


def outside_channels() -> list[Path]:
    files = []
    for path in sorted(BOT.rglob("*.py")):
        relative = path.relative_to(BOT)
        if any(relative == allowed or allowed in relative.parents for allowed in ALLOWED):
            continue
        if "migrations" in relative.parts:
            continue  # the schema's history, written once: never edited
        files.append(path)
    return files


def test_no_module_outside_the_channels_names_a_provider():
    allowed_names = configuration_names()
    found = {
        str(path.relative_to(BOT)): hits
        for path in outside_channels()
        if (hits := named(ast.parse(path.read_text(encoding="utf-8")), allowed_names))
    }
    assert found == {}


def test_the_scan_finds_a_provider_named_in_code():
    """The scan itself: each way of naming a provider in code is found, prose is not."""
    source = '''
"""A docstring may say Telegram."""
import bot.channels.telegram
from bot.channels.twilio_sms import TwilioSender
def send(job):
    """Telegram again: prose."""
    if job.channel == "telegram":  # a comment may say twilio
        return twilio_sender.send(job, via=TWILIO)
    return settings.advocate_telegram_chat
'''
    hits = {word for _, word in named(ast.parse(source), configuration_names())}
    assert hits == {"bot.channels.telegram", "bot.channels.twilio_sms", "TwilioSender", "telegram", "twilio_sender", "TWILIO"}
