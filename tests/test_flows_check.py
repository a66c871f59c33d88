"""``safeharbor flows check`` and ``flows graph``: the real content passes, and each kind of bad edit
an editor could make is reported as ``severity: file: path: problem`` with the right exit code,
never as a traceback.

Each bad-edit case copies the real ``flows/`` and ``locales/`` into a temporary folder, applies ONE
edit, and runs the command as a subprocess with ``SAFEHARBOR_CONTENT_DIR`` pointing there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.domain.problems import errors
from bot.service import read_content

REPO = Path(__file__).resolve().parent.parent


def run_bot(*args: str, content_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEHARBOR_")}
    if content_dir is not None:
        env["SAFEHARBOR_CONTENT_DIR"] = str(content_dir)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


# -- the real content ------------------------------------------------------------------------------


def test_real_content_has_no_errors_and_no_warnings():
    content, problems = read_content(REPO)

    assert [str(p) for p in problems] == []
    assert content is not None
    assert "main" in content.flows


def test_strict_check_of_real_content_exits_0():
    result = run_bot("flows", "check", "--strict")

    assert result.returncode == 0, result.stderr
    assert "0 errors, 0 warning(s)" in result.stdout
    assert result.stderr == ""


def test_graph_main_prints_mermaid_with_every_step():
    steps = yaml.safe_load((REPO / "flows" / "main.yaml").read_text(encoding="utf-8"))["steps"]

    result = run_bot("flows", "graph", "main")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    nodes = {m.group(1) for line in lines if (m := re.fullmatch(r"\s+([a-z_]+)(?:\[\1\]|\(\(\1\)\))", line))}
    assert nodes == set(steps)
    assert '    main_menu -->|"2 Find help"| find_help' in lines


def test_graph_of_unknown_flow_exits_2_naming_the_flows_there_are():
    result = run_bot("flows", "graph", "nosuch")

    assert result.returncode == 2
    assert "no flow 'nosuch'" in result.stderr
    assert "main" in result.stderr
    assert result.stdout == ""


# -- bad edits -------------------------------------------------------------------------------------

Edit = Callable[[Path], None]


def yaml_edit(relative: str, change: Callable[[dict], None]) -> Edit:
    """Load ``relative``, let ``change`` modify the document, dump it back."""

    def apply(root: Path) -> None:
        path = root / relative
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(document)
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")

    return apply


def text_edit(relative: str, old: str, new: str) -> Edit:
    """Replace the one occurrence of ``old`` in ``relative``."""

    def apply(root: Path) -> None:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} should occur once in {relative}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    return apply


def setter(*path_and_value) -> Callable[[dict], None]:
    *path, value = path_and_value

    def change(document: dict) -> None:
        node = document
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def deleter(*path) -> Callable[[dict], None]:
    def change(document: dict) -> None:
        node = document
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


def _add_orphan_step(document: dict) -> None:
    document["steps"]["orphan"] = {"say": ["menu.intro"], "choices": [{"label": "choice.menu", "goto": "main_menu"}]}


FLOW = "flows/main.yaml"
EN = "locales/en.yaml"
ES = "locales/es.yaml"
UNDERSTOOD_EN = "locales/understanding/en.yaml"
UNDERSTOOD_ES = "locales/understanding/es.yaml"
NATIONAL = "flows/resources/us-national.yaml"
LONG_TAIL = " Take all the time you need, and come back to this whenever you want." * 6

# (id, edit, strict, exit code, fragments stderr must contain)
CASES = [
    pytest.param(
        yaml_edit(FLOW, setter("steps", "main_menu", "colour", "red")), False, 1,
        ["flows/main.yaml: steps.main_menu.colour: unknown field 'colour'"],
        id="unknown-field-in-step",
    ),
    pytest.param(
        yaml_edit(FLOW, setter("steps", "main_menu", "choices", 1, "goto", "nowhere")), False, 1,
        ["flows/main.yaml: steps.main_menu.choices[1].goto: no step named 'nowhere'"],
        id="goto-names-no-step",
    ),
    pytest.param(
        yaml_edit(FLOW, setter("steps", "not_safe", "actions", [{"type": "teleport"}])), False, 1,
        ["flows/main.yaml: steps.not_safe.actions[0].type: 'teleport' is not one of"],
        id="unknown-action-type",
    ),
    pytest.param(
        yaml_edit(FLOW, setter("steps", "help_legal", "actions", [{"type": "list_resources", "category": "lawyers"}])),
        False, 1,
        ["flows/main.yaml: steps.help_legal.actions[0].category: 'lawyers' is not one of"],
        id="list-resources-unknown-category",
    ),
    pytest.param(
        yaml_edit(FLOW, setter("steps", "help_legal", "actions", [{"type": "list_resources", "category": "legal", "limit": 3, "radius": 5}])),
        False, 1,
        ["flows/main.yaml: steps.help_legal.actions[0].radius: unknown field 'radius'"],
        id="action-with-unknown-field",
    ),
    pytest.param(
        yaml_edit(FLOW, deleter("spec_version")), False, 1,
        ["flows/main.yaml: (top): 'spec_version' is a required property"],
        id="missing-spec-version",
    ),
    pytest.param(
        yaml_edit(FLOW, setter("spec_version", 2)), False, 1,
        ["flows/main.yaml: spec_version: 1 was expected"],
        id="wrong-spec-version",
    ),
    pytest.param(
        yaml_edit(FLOW, deleter("steps", "someone_else_reach", "choices")), False, 1,
        ["flows/main.yaml: steps.someone_else_reach: dead end"],
        id="dead-end-step",
    ),
    pytest.param(
        yaml_edit(FLOW, _add_orphan_step), False, 0,
        ["flows/main.yaml: steps.orphan: warning: unreachable"],
        id="unreachable-step-warns",
    ),
    pytest.param(
        yaml_edit(FLOW, _add_orphan_step), True, 1,
        ["flows/main.yaml: steps.orphan: warning: unreachable"],
        id="unreachable-step-fails-strict",
    ),
    pytest.param(
        yaml_edit(FLOW, setter("steps", "welcome", "choices", 0, "actions", [{"type": "set_language", "language": "fr"}])),
        False, 1,
        ["flows/main.yaml: steps.welcome.choices[0].actions: no locale file for language 'fr'"],
        id="set-language-without-locale",
    ),
    pytest.param(
        yaml_edit(EN, deleter("text", "safety.choice.exit")), False, 1,
        ["locales/en.yaml: text.safety.choice.exit: missing (used at flows/main.yaml: steps.safety_tips.choices[2].label)"],
        id="text-missing-in-default-language",
    ),
    pytest.param(
        yaml_edit(EN, deleter("text", "safety.exit")), False, 1,
        ["locales/en.yaml: text.safety.exit: missing (used at flows/main.yaml: steps.safety_exit.say[0])"],
        id="message-missing-in-default-language",
    ),
    pytest.param(
        yaml_edit(EN, deleter("text", "common.reprompt")), False, 1,
        ["locales/en.yaml: text.common.reprompt: missing (used at flows/main.yaml: reprompt)"],
        id="reprompt-missing-in-default-language",
    ),
    pytest.param(
        yaml_edit(ES, deleter("text", "safety.choice.exit")), False, 0,
        ["locales/es.yaml: text.safety.choice.exit: warning: missing; en is shown instead"],
        id="text-missing-only-in-es",
    ),
    pytest.param(
        yaml_edit(ES, deleter("match", "match.safety_exit")), False, 0,
        ["locales/es.yaml: match.match.safety_exit: warning: missing match words for this language"],
        id="match-words-missing-in-es",
    ),
    pytest.param(
        yaml_edit(EN, setter("match", "cmd.menu", ["menu", "Stop"])), False, 1,
        ["locales/en.yaml: match.cmd.menu[1]: 'Stop' is a carrier opt-out word"],
        id="match-word-is-carrier-opt-out",
    ),
    pytest.param(
        text_edit(EN, "    EXIT - erase this chat at once\n", "    EXIT - erase this chat at once\n    Reply STOP to end messages.\n"),
        False, 1,
        ["locales/en.yaml: text.help.commands: teaches the carrier opt-out word 'STOP'",
         "locales/en.yaml: text.help.commands: teaches the carrier opt-out word 'END'"],
        id="message-teaches-stop",
    ),
    pytest.param(  # lowercase, as a verb, in a text no step uses (the console sends it)
        text_edit(EN, "You can answer yes or no.", "You can answer yes or no, or stop anytime."),
        False, 1,
        ["locales/en.yaml: text.canned.safe_to_talk: teaches the carrier opt-out word 'STOP'"],
        id="canned-text-teaches-lowercase-stop",
    ),
    pytest.param(  # hidden by a zero-width space, still read as a phone shows it
        text_edit(EN, "You can answer yes or no.", "You can answer yes or no, or Can\u200bcel."),
        False, 1,
        ["locales/en.yaml: text.canned.safe_to_talk: teaches the carrier opt-out word 'CANCEL'"],
        id="opt-out-word-behind-a-zero-width-space",
    ),
    pytest.param(  # a reveal word past the old 100 characters, inside the 178 a lock screen shows
        text_edit(EN, "You choose what to share, and you can skip anything.\n",
                  "You choose what to share, and you can skip anything. A shelter can help.\n"),
        False, 1,
        ["flows/main.yaml: steps.main_menu (en): the lock-screen preview", "could reveal the service (shelter)"],
        id="reveal-word-at-character-150",
    ),
    pytest.param(  # a choice label is part of what a short message shows
        text_edit(EN, '  menu.find_help: "Find help"', '  menu.find_help: "Find a shelter"'),
        False, 1,
        ["flows/main.yaml: steps.main_menu (en): the lock-screen preview", "2 Find a shelter", "could reveal the service (shelter)",
         "flows/main.yaml: common.reprompt in steps.main_menu (en): the lock-screen preview"],
        id="choice-label-reveals-in-the-preview",
    ),
    pytest.param(  # Cyrillic look-alike letters and a zero-width joiner do not hide a word
        text_edit(EN, "  canned.safe_to_talk: |-\n    Quick check:", "  canned.safe_to_talk: |-\n    \u0455h\u0435l\u200dter check:"),
        False, 1,
        ["flows/main.yaml: text.canned.safe_to_talk (en): the lock-screen preview", "could reveal the service (shelter)"],
        id="look-alike-letters-reveal",
    ),
    pytest.param(  # the offer of guesses shows its first guess
        text_edit(EN, '  intent.need.food: "Food or a place to stay"', '  intent.need.food: "Food or a shelter"'),
        False, 1,
        ["flows/main.yaml: unsure after common.unsure: intent.need.food (en): the lock-screen preview", "could reveal the service (shelter)"],
        id="guess-label-reveals-after-the-offer",
    ),
    pytest.param(  # the text the service adds when a person is asked for
        text_edit(EN, "Someone from our team usually answers", "A victim advocate usually answers"),
        False, 1,
        ["flows/main.yaml: steps.advocate_requested_write + handoff.waiting (en): the lock-screen preview", "could reveal the service (victim, advocate)"],
        id="handoff-extra-reveals",
    ),
    pytest.param(
        text_edit(EN, "You can write again later, as a new chat.", "You can write again later, as a new chat, at {hotline}."),
        False, 1,
        ["locales/en.yaml: text.safety.exit: unknown placeholder {hotline}"],
        id="unknown-placeholder",
    ),
    pytest.param(
        text_edit(EN, "  menu.intro: |-\n    Here are some options.", "  menu.intro: |-\n    Help with trafficking."),
        False, 1,
        ["flows/main.yaml: steps.main_menu (en): the lock-screen preview 'Help with trafficking.", "could reveal the service (traffick"],
        id="first-line-reveals-en",
    ),
    pytest.param(
        text_edit(ES, "  menu.intro: |-\n    Aquí tienes algunas opciones.", "  menu.intro: |-\n    Ayuda contra la Trata."),
        False, 1,
        ["flows/main.yaml: steps.main_menu (es): the lock-screen preview 'Ayuda contra la Trata.", "could reveal the service (trata"],
        id="first-line-reveals-es",
    ),
    pytest.param(
        text_edit(EN, "Type EXIT anytime, at any step.", "Type EXIT anytime \u2014 at any step. It\u2019s fine."),
        False, 0,
        ["flows/main.yaml: steps.safety_exit (en): warning: typographic characters '\u2014\u2019' push this GSM-7 language into UCS-2"],
        id="typographic-characters-warn",
    ),
    pytest.param(
        text_edit(EN, "No border is needed.", "No border is needed." + LONG_TAIL), False, 0,
        ["flows/main.yaml: steps.rights_what (en): warning: ", "SMS segments (GSM-7", "keep it to 3"],
        id="message-over-3-segments",
    ),
    pytest.param(
        yaml_edit(NATIONAL, setter("resources", 0, "phone", "888-373-7888")), False, 1,
        ["flows/resources/us-national.yaml: resources[0].phone: '888-373-7888' does not match"],
        id="resource-bad-phone",
    ),
    pytest.param(
        yaml_edit(NATIONAL, deleter("resources", 3, "source")), False, 1,
        ["flows/resources/us-national.yaml: resources[3]: 'source' is a required property"],
        id="resource-without-source",
    ),
    pytest.param(
        yaml_edit(ES, setter("language", "pt")), False, 1,
        ["locales/es.yaml: language: 'pt' does not match the file name"],
        id="locale-language-not-file-name",
    ),
    # -- the understanding data (locales/understanding/) -------------------------------------------
    pytest.param(
        yaml_edit(UNDERSTOOD_EN, deleter("intents", "need.legal")), False, 1,
        ["locales/understanding/en.yaml: intents.need.legal: missing (routed at flows/main.yaml: intents.need.legal)"],
        id="understanding-routed-intent-missing",
    ),
    pytest.param(
        yaml_edit(UNDERSTOOD_ES, deleter("intents", "need.legal")), True, 1,
        ["locales/understanding/es.yaml: intents.need.legal: warning: missing (routed at flows/main.yaml: intents.need.legal)"],
        id="understanding-intent-missing-only-in-es",
    ),
    pytest.param(
        yaml_edit(UNDERSTOOD_EN, setter("intents", "exit", "alone", ["exit", "STOP"])), False, 1,
        ["locales/understanding/en.yaml: intents.exit.alone[1]: 'STOP' is a carrier opt-out word"],
        id="understanding-exit-is-carrier-opt-out",
    ),
    pytest.param(
        yaml_edit(UNDERSTOOD_EN, setter("intents", "need.legal", "phrases", ["lawyer", 42])), False, 1,
        ["locales/understanding/en.yaml: intents.need.legal.phrases[1]: 42 is not of type 'string'"],
        id="understanding-phrase-not-text",
    ),
    pytest.param(
        yaml_edit(UNDERSTOOD_EN, setter("intents", "need.legal", "synonyms", ["lawyer"])), False, 1,
        ["locales/understanding/en.yaml: intents.need.legal.synonyms: unknown field 'synonyms'"],
        id="understanding-unknown-field",
    ),
    pytest.param(
        yaml_edit("flows/main.yaml", deleter("intents", "crisis.self_harm")), False, 1,
        ["flows/main.yaml: intents: 'crisis.self_harm' leads nowhere: DESIGN rules 3 and 5 need it answered"],
        id="flow-without-the-suicide-crisis",
    ),
    pytest.param(
        yaml_edit("flows/main.yaml", setter("intents", "need.food", "kitchen")), False, 1,
        ["flows/main.yaml: intents.need.food: no step named 'kitchen'"],
        id="flow-intent-to-no-step",
    ),
]


@pytest.fixture
def content_copy(tmp_path) -> Path:
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    shutil.copytree(REPO / "locales", tmp_path / "locales")
    return tmp_path


def check(content_dir: Path, strict: bool = False) -> subprocess.CompletedProcess:
    return run_bot("flows", "check", *(["--strict"] if strict else []), content_dir=content_dir)


@pytest.mark.parametrize(("edit", "strict", "exit_code", "fragments"), CASES)
def test_bad_edit_is_reported_where_it_is(content_copy, edit, strict, exit_code, fragments):
    edit(content_copy)

    result = check(content_copy, strict)

    assert "Traceback" not in result.stderr
    assert result.returncode == exit_code, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_yaml_syntax_error_is_reported_by_line_and_column(content_copy):
    path = content_copy / FLOW
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    number = lines.index("menu: main_menu\n")
    lines[number] = "menu: main_menu: oops\n"
    path.write_text("".join(lines), encoding="utf-8")

    result = check(content_copy)

    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    assert f"flows/main.yaml: line {number + 1}, column 16: invalid YAML" in result.stderr


def test_file_that_is_not_utf8_is_reported_with_the_byte(content_copy):
    path = content_copy / ES
    encoded = path.read_text(encoding="utf-8").encode("latin-1")
    first_non_ascii = next(i for i, byte in enumerate(encoded) if byte > 0x7F)
    path.write_bytes(encoded)

    result = check(content_copy)

    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    assert f"locales/es.yaml: not UTF-8 (byte {first_non_ascii})" in result.stderr


def test_unreachable_step_is_the_only_problem_and_content_still_loads(content_copy):
    yaml_edit(FLOW, _add_orphan_step)(content_copy)

    content, problems = read_content(content_copy)

    assert content is not None
    assert errors(problems) == []
    assert [(p.where, p.severity) for p in problems] == [("flows/main.yaml: steps.orphan", "warning")]
