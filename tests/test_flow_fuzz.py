"""A flow edited badly never crashes the loader: whatever ``flows/main.yaml`` becomes (keys
dropped, values of the wrong type, targets that go nowhere, junk, not YAML at all), loading the
content gives problems as ``file: path: problem``, never an exception (DESIGN: a bad flow edit
never takes the live service down). 500 examples here; ``bench/fuzz.py`` runs 10,000."""

from __future__ import annotations

import copy
import os
import shutil

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.problems import errors
from bot.service import read_content
from tests.conftest import REPO

EXAMPLES = int(os.environ.get("SAFEHARBOR_FUZZ_EXAMPLES", "200"))  # bench/fuzz.py runs many more
ORIGINAL = yaml.safe_load((REPO / "flows" / "main.yaml").read_text())

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def paths(node, prefix=()):
    """Every (path) into the document: dict keys and list positions."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


ALL_PATHS = [p for p in paths(ORIGINAL) if p]


@st.composite
def mutated(draw):
    document = copy.deepcopy(ORIGINAL)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = document
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["delete", "replace", "retarget", "duplicate"]))
            if action == "delete":
                del parent[path[-1]]
            elif action == "replace":
                parent[path[-1]] = draw(junk)
            elif action == "retarget":
                parent[path[-1]] = draw(st.sampled_from(["nowhere", "@back", "", "welcome", "erased"]))
            elif isinstance(parent, list):
                parent.append(copy.deepcopy(parent[path[-1]]))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed that path
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


raw = st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1"))


def content_with(tmp_path, text: str):
    (tmp_path / "flows").mkdir(exist_ok=True)
    if not (tmp_path / "locales").exists():
        shutil.copytree(REPO / "locales", tmp_path / "locales")  # texts and understanding data
    (tmp_path / "flows" / "main.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    if not (tmp_path / "flows" / "resources").exists():
        shutil.copytree(REPO / "flows" / "resources", tmp_path / "flows" / "resources")
    return read_content(tmp_path)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutated() | raw)
def test_any_edit_of_the_flow_gives_problems_never_an_exception(tmp_path_factory, text):
    loaded, problems = content_with(tmp_path_factory.mktemp("flow"), text)
    if loaded is None:
        assert errors(problems), "refused without saying why"
        for problem in errors(problems):
            assert str(problem).count(":") >= 2, str(problem)  # file: path: problem
    else:
        assert "main" in loaded.engines


def test_the_unmutated_flow_loads(tmp_path):
    loaded, problems = content_with(tmp_path, yaml.safe_dump(ORIGINAL, allow_unicode=True, sort_keys=False))
    assert loaded is not None and not errors(problems)


def test_a_flow_that_renames_itself_is_refused_with_where_and_why(tmp_path):
    # Found by bench/fuzz.py at 10,000 examples: this one problem had no path.
    loaded, problems = content_with(tmp_path, yaml.safe_dump({**ORIGINAL, "flow": "nowhere"}, allow_unicode=True, sort_keys=False))
    assert loaded is None
    assert [str(p) for p in errors(problems)] == [f"{tmp_path / 'flows'}: flow: no file says `flow: main`; the service starts every conversation there"]
