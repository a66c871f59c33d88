"""``bot.content.edit.apply_edits``: a form's edit changes the lines of the edited entry and no
other byte of the file, so a deployment keeping its content in git sees a one-entry diff."""

from __future__ import annotations

import difflib
import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from bot.content.edit import EditError, apply_edits
from tests.conftest import REPO

FILES = sorted(
    str(p.relative_to(REPO))
    for pattern in ("flows/*.yaml", "flows/resources/*.yaml", "locales/*.yaml", "locales/understanding/*.yaml")
    for p in REPO.glob(pattern)
)


def _first_text_entry(node, path=()):
    """The path of the first string in a block mapping that has a next sibling, its key's line
    and the next sibling's key line (0-based)."""
    if isinstance(node, CommentedMap) and not node.fa.flow_style():
        keys = list(node)
        for key, following in zip(keys, keys[1:]):
            if isinstance(node[key], str):
                return [*path, key], node.lc.key(key)[0], node.lc.key(following)[0]
        for key in keys:
            found = _first_text_entry(node[key], (*path, key))
            if found:
                return found
    if isinstance(node, list) and not node.fa.flow_style():
        for i, item in enumerate(node):
            found = _first_text_entry(item, (*path, i))
            if found:
                return found
    return None


def test_the_real_files_are_there():
    assert {"flows/main.yaml", "locales/es.yaml", "locales/understanding/es.yaml"} <= set(FILES)
    assert any(f.startswith("flows/resources/") for f in FILES)


@pytest.mark.parametrize("name", FILES)
def test_no_edit_keeps_every_byte(name):
    text = (REPO / name).read_text(encoding="utf-8")
    assert apply_edits(text, []) == text


@pytest.mark.parametrize("name", FILES)
def test_one_text_changed_touches_only_its_entry(name):
    text = (REPO / name).read_text(encoding="utf-8")
    path, start, following = _first_text_entry(YAML().load(text))
    edited = apply_edits(text, [{"path": path, "value": "Changed by the studio"}])
    before, after = text.splitlines(keepends=True), edited.splitlines(keepends=True)
    changed = [op for op in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes() if op[0] != "equal"]
    assert changed, name
    assert all(start <= i1 and i2 <= following for _, i1, i2, _, _ in changed), (name, path, changed)
    assert YAML(typ="safe").load(edited) == _set(YAML(typ="safe").load(text), path, "Changed by the studio")


def _set(data, path, value):
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def test_a_locale_text_change_is_a_one_line_diff_and_flow_lists_stay_wrapped():
    text = (REPO / "locales/es.yaml").read_text(encoding="utf-8")
    edited = apply_edits(text, [{"path": ["text", "safe_check.ask"], "value": "¿Puedes hablar ahora?"}])
    diff = [line for line in difflib.unified_diff(text.splitlines(), edited.splitlines(), lineterm="", n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    added = [line for line in diff if line.startswith("+")]
    assert len(added) == 1 and added[0].endswith("¿Puedes hablar ahora?")
    start = text.splitlines().index(next(line for line in text.splitlines() if line.startswith("  safe_check.ask:")))
    entry = text.splitlines()[start:start + 1 + len([line for line in diff if line.startswith("-")])]
    assert all(line[1:] in entry for line in diff if line.startswith("-"))
    reveal = next(line for line in text.splitlines() if line.startswith("reveal_words: ["))
    assert reveal in edited.splitlines() and not reveal.endswith("]")  # still wrapped over lines


SAMPLE = """\
# the top
name: Español  # as written
steps:
  start:
    say: [a, b]
    choices:
      - label: one
        goto: x
      - label: two
        goto: y
    actions: [{type: end}]
  # the next step
  other:
    say: [c]
tail: |-
  two
  lines
"""


def _diff(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_set_a_key_keeps_its_line_comment():
    out = apply_edits(SAMPLE, [{"path": ["name"], "value": "Castellano"}])
    assert _diff(SAMPLE, out) == ["-name: Español  # as written", "+name: Castellano  # as written"]


def test_add_a_key_after_its_last_sibling_not_before_the_next_ones_comment():
    out = apply_edits(SAMPLE, [{"path": ["steps", "start", "new"], "value": "here"}])
    assert _diff(SAMPLE, out) == ["+    new: here"]
    assert out.index("new: here") < out.index("# the next step")
    assert "actions: [{type: end}]" in out


def test_delete_a_key_leaves_the_next_ones_comment():
    out = apply_edits(SAMPLE, [{"path": ["steps", "start"], "delete": True}])
    assert "start:" not in out and "  # the next step\n  other:" in out
    assert all(line.startswith("-") for line in _diff(SAMPLE, out))


def test_lists_set_add_and_delete_items():
    out = apply_edits(SAMPLE, [{"path": ["steps", "start", "choices", 1, "label"], "value": "dos"}])
    assert _diff(SAMPLE, out) == ["-      - label: two", "+      - label: dos"]
    added = apply_edits(SAMPLE, [{"path": ["steps", "start", "choices", 2], "value": {"label": "three", "goto": "z"}}])
    assert _diff(SAMPLE, added) == ["+      - label: three", "+        goto: z"]
    removed = apply_edits(SAMPLE, [{"path": ["steps", "start", "choices", 0], "delete": True}])
    assert _diff(SAMPLE, removed) == ["-      - label: one", "-        goto: x"]


def test_inside_a_flow_list_only_that_entry_is_rewritten():
    out = apply_edits(SAMPLE, [{"path": ["steps", "start", "say", 1], "value": "B"}])
    assert _diff(SAMPLE, out) == ["-    say: [a, b]", "+    say: [a, B]"]


def test_multi_line_values_are_blocks():
    out = apply_edits(SAMPLE, [{"path": ["tail"], "value": "three\nlines\nnow"}])
    assert out.endswith("tail: |-\n  three\n  lines\n  now\n")
    assert out.startswith(SAMPLE[: SAMPLE.index("tail:")])
    new = apply_edits(SAMPLE, [{"path": ["steps", "other", "note"], "value": "a\nb"}])
    assert _diff(SAMPLE, new) == ["+    note: |-", "+      a", "+      b"]


def test_a_new_parent_is_made_for_a_new_key():
    out = apply_edits(SAMPLE, [{"path": ["extra", "key"], "value": 1}])
    assert out == SAMPLE + "extra:\n  key: 1\n"


@pytest.mark.parametrize("edits, said", [
    ([{"path": ["name"], "value": 1}, {"path": ["nothing", "here"], "delete": True}], "edit 2: no 'nothing'"),
    ([{"path": ["steps", "start", "choices", 9, "label"], "value": "x"}], "edit 1: no 9 here"),
    ([{"path": [], "value": 1}], "edit 1: give a path"),
    ([{"path": ["name"]}], "edit 1: give a value"),
    ([{"path": ["name", "x"], "value": 1}], "edit 1: name holds a single value"),
])
def test_bad_edits_name_the_edit(edits, said):
    with pytest.raises(EditError, match=said):
        apply_edits(SAMPLE, edits)


def test_a_file_that_is_not_yaml_is_refused():
    with pytest.raises(EditError, match="not valid YAML"):
        apply_edits("a: [1,\n", [{"path": ["a"], "value": 1}])

