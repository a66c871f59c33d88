"""``bot.store.resources``: the resource directory from ``flows/resources/*.yaml``: every entry is
sourced, national entries come before regional ones, the person's language ranks first, and
duplicate ids are reported."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from bot.domain.problems import CATEGORIES, ContentInvalid
from bot.store.resources import load_directory, read_directory

REPO = Path(__file__).resolve().parent.parent
RESOURCES = REPO / "flows" / "resources"


def entry(id: str, *, categories=("legal",), **fields) -> dict:
    return {
        "id": id, "name": id.replace("_", " ").title(), "categories": list(categories), "area": "Test County",
        "web": f"https://example.org/{id}", "source": f"https://example.org/{id}/about", "checked": "2026-11-01",
        **fields,
    }


def write_region(directory: Path, region: str, entries: list[dict], scope: str = "regional", file: str | None = None) -> Path:
    path = directory / (file or f"{region}.yaml")
    document = {"spec_version": 1, "region": region, "scope": scope, "resources": entries}
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def with_region(tmp_path) -> Path:
    """The real national file plus a regional one that sorts (and so loads) before it."""
    shutil.copy(RESOURCES / "us-national.yaml", tmp_path / "us-national.yaml")
    write_region(tmp_path, "test-region", [
        entry("local_legal_en", languages=["en"]),
        entry("local_legal_vi", languages=["en", "vi"]),
        entry("local_legal_interp", languages=["en"], interpreters=True),
        entry("local_legal_any"),
        entry("local_shelter", categories=["shelter"]),
    ])
    return tmp_path


# -- the real directory -----------------------------------------------------------------------------


def test_real_directory_loads_without_problems():
    directory, problems = read_directory(RESOURCES)

    assert [str(p) for p in problems] == []
    assert len(directory.resources) >= 5


def test_every_real_entry_names_its_source_and_when_it_was_checked():
    directory, _ = read_directory(RESOURCES)

    for resource in directory.resources:
        assert resource.source.startswith(("https://", "http://")), resource.id
        assert isinstance(resource.checked, str), resource.id
        assert dt.date.fromisoformat(resource.checked) <= dt.date.today(), resource.id
        assert resource.phone or resource.text or resource.web, resource.id
        assert set(resource.categories) <= set(CATEGORIES), resource.id


def test_real_ids_are_unique_and_national():
    directory, _ = read_directory(RESOURCES)

    ids = [r.id for r in directory.resources]
    assert len(ids) == len(set(ids))
    assert {r.region for r in directory.resources} == {"us-national"}


def test_the_hotline_is_listed_first_for_emergencies():
    directory, _ = read_directory(RESOURCES)

    [first] = directory.find("emergency", "es", limit=1)

    assert first.id == "nhth"
    assert first.phone == "1-888-373-7888"
    assert first.text == "233733"


def test_every_category_the_flow_lists_has_at_least_one_entry():
    directory, _ = read_directory(RESOURCES)

    for category in ("legal", "shelter", "medical", "counseling", "immigration", "work_education"):
        assert directory.find(category, "en", limit=6), category


# -- ranking ------------------------------------------------------------------------------------------


def test_national_entries_come_before_regional_ones(with_region):
    directory, problems = read_directory(with_region)
    assert problems == []
    assert directory.resources[0].region == "test-region"  # file order puts the regional file first

    found = directory.find("legal", "en", limit=10)

    regions = [r.region for r in found]
    assert regions == sorted(regions, key=lambda region: region != "us-national")
    assert [r.id for r in found[:2]] == ["lawhelp_org", "eoir_pro_bono"]
    assert [r.id for r in found[2:]] == ["local_legal_en", "local_legal_vi", "local_legal_interp", "local_legal_any"]


def test_find_respects_the_limit_and_the_category(with_region):
    directory, _ = read_directory(with_region)

    assert [r.id for r in directory.find("legal", "en", limit=1)] == ["lawhelp_org"]
    assert [r.id for r in directory.find("shelter", "en", limit=10) if r.region == "test-region"] == ["local_shelter"]
    assert all("legal" in r.categories for r in directory.find("legal", "en", limit=10))


def test_a_deployments_regional_entries_are_never_crowded_out_by_the_national_list(with_region):
    directory, _ = read_directory(with_region)
    # two national legal entries exist; with a regional file, one place (up to half) is theirs
    assert [r.id for r in directory.find("legal", "en", limit=2)] == ["lawhelp_org", "local_legal_en"]
    assert [r.id for r in directory.find("legal", "en", limit=3)] == ["lawhelp_org", "eoir_pro_bono", "local_legal_en"]
    assert [r.id for r in directory.find("legal", "en", limit=4)] == ["lawhelp_org", "eoir_pro_bono", "local_legal_en", "local_legal_vi"]
    national_only, _ = read_directory(RESOURCES)
    assert [r.id for r in national_only.find("legal", "en", limit=2)] == ["lawhelp_org", "eoir_pro_bono"]


def test_entries_serving_the_language_or_with_interpreters_rank_first(with_region):
    directory, _ = read_directory(with_region)

    found = [r.id for r in directory.find("legal", "vi", limit=10)]

    # national: EOIR's list claims no languages (anyone), LawHelp is en/es only;
    # regional: Vietnamese, interpreters, no languages listed (anyone), then English only.
    assert found == [
        "eoir_pro_bono", "lawhelp_org",
        "local_legal_vi", "local_legal_interp", "local_legal_any", "local_legal_en",
    ]


def test_spanish_keeps_file_order_where_everyone_speaks_it():
    directory, _ = read_directory(RESOURCES)

    assert [r.id for r in directory.find("legal", "es", limit=10)] == ["lawhelp_org", "eoir_pro_bono"]


def test_regions_filter_keeps_only_the_named_files(with_region):
    regional, problems = read_directory(with_region, regions=["test-region"])

    assert problems == []
    assert {r.region for r in regional.resources} == {"test-region"}
    assert [r.id for r in regional.find("legal", "vi", limit=2)] == ["local_legal_vi", "local_legal_interp"]

    national, _ = read_directory(with_region, regions=["us-national"])
    assert {r.region for r in national.resources} == {"us-national"}


def test_regional_scope_is_the_default(tmp_path):
    write_region(tmp_path, "aa-first", [entry("regional_one")], scope="regional")
    write_region(tmp_path, "zz-national", [entry("national_one")], scope="national")

    directory, _ = read_directory(tmp_path)

    assert [r.id for r in directory.find("legal", "en", limit=5)] == ["national_one", "regional_one"]


# -- problems -----------------------------------------------------------------------------------------


def test_duplicate_id_across_files_is_reported_and_the_second_dropped(tmp_path):
    write_region(tmp_path, "aa-region", [entry("shared_id"), entry("only_here")])
    write_region(tmp_path, "bb-region", [entry("other"), entry("shared_id")])

    directory, problems = read_directory(tmp_path)

    assert [(str(p), p.severity) for p in problems] == [
        ("flows/resources/bb-region.yaml: resources[1].id: 'shared_id' is also in flows/resources/aa-region.yaml", "error")
    ]
    assert [(r.id, r.region) for r in directory.resources] == [("shared_id", "aa-region"), ("only_here", "aa-region"), ("other", "bb-region")]
    with pytest.raises(ContentInvalid):
        load_directory(tmp_path)


def test_duplicate_id_within_one_file_is_reported(tmp_path):
    write_region(tmp_path, "aa-region", [entry("twice"), entry("twice", name="Again")])

    _, problems = read_directory(tmp_path)

    assert [str(p) for p in problems] == ["flows/resources/aa-region.yaml: resources[1].id: 'twice' is also in flows/resources/aa-region.yaml"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda e: e.pop("source"), "resources[0]: 'source' is a required property"),
        (lambda e: e.pop("checked"), "resources[0]: 'checked' is a required property"),
        (lambda e: e.update(phone="888-373-7888"), "resources[0].phone: '888-373-7888' does not match"),
        (lambda e: e.update(text="+1 233733"), "resources[0].text: '+1 233733' does not match"),
        (lambda e: e.update(web="http://example.org"), "resources[0].web: 'http://example.org' does not match"),
        (lambda e: e.update(categories=["lawyers"]), "resources[0].categories[0]: 'lawyers' is not one of"),
        (lambda e: e.update(colour="red"), "resources[0].colour: unknown field 'colour'"),
    ],
)
def test_bad_entry_is_located_in_its_file(tmp_path, change, where):
    bad = entry("bad")
    change(bad)
    write_region(tmp_path, "aa-region", [bad])

    directory, problems = read_directory(tmp_path)

    assert len(problems) == 1
    assert str(problems[0]).startswith(f"flows/resources/aa-region.yaml: {where}")
    assert directory.resources == ()


def test_entry_without_any_contact_is_an_error(tmp_path):
    bare = entry("bare")
    del bare["web"]
    write_region(tmp_path, "aa-region", [bare])

    _, problems = read_directory(tmp_path)

    assert [p.where for p in problems] == ["flows/resources/aa-region.yaml: resources[0]"]


def test_yaml_dates_in_checked_are_read_as_text(tmp_path):
    (tmp_path / "aa-region.yaml").write_text(
        "spec_version: 1\nregion: aa-region\nresources:\n"
        "  - {id: one, name: One, categories: [legal], area: X, web: 'https://x.org', source: 'https://x.org', checked: 2026-01-31}\n",
        encoding="utf-8",
    )

    directory, problems = read_directory(tmp_path)

    assert problems == []
    assert directory.resources[0].checked == "2026-01-31"


def test_bad_file_does_not_hide_the_good_ones(tmp_path):
    write_region(tmp_path, "aa-region", [entry("good")])
    (tmp_path / "bb-region.yaml").write_text("spec_version: 1\nregion: [unclosed\n", encoding="utf-8")

    directory, problems = read_directory(tmp_path)

    assert [r.id for r in directory.resources] == ["good"]
    assert len(problems) == 1 and problems[0].where.startswith("flows/resources/bb-region.yaml: line ")


# -- localized names, text languages, audiences ---------------------------------------------------


def test_a_name_can_be_given_per_language_and_a_plain_string_still_works(tmp_path):
    from bot.domain.messages import name_in

    write_region(tmp_path, "aa-region", [
        entry("both", name={"en": "Legal Aid Line", "es": "Línea de Ayuda Legal"}),
        entry("plain", name="LawHelp.org"),
        entry("english_only", name={"en": "Only English"}),
    ])

    directory, problems = read_directory(tmp_path)

    assert problems == []
    both, plain, english_only = directory.resources
    assert (name_in(both, "es", "en"), name_in(both, "en", "en"), name_in(both, "vi", "en")) == (
        "Línea de Ayuda Legal", "Legal Aid Line", "Legal Aid Line",
    )
    assert name_in(plain, "es", "en") == "LawHelp.org"
    assert name_in(english_only, "es", "en") == "Only English"  # the default language's name, never blank


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ({"en": ""}, "resources[0].name"),
        ({"EN": "Shouting"}, "resources[0].name"),
        ({}, "resources[0].name"),
        ("x" * 61, "resources[0].name"),
    ],
)
def test_a_bad_localized_name_is_located(tmp_path, name, where):
    write_region(tmp_path, "aa-region", [entry("bad", name=name)])

    _, problems = read_directory(tmp_path)

    assert [p.where for p in problems] == [f"flows/resources/aa-region.yaml: {where}"]


def test_text_languages_need_a_text_line(tmp_path):
    write_region(tmp_path, "aa-region", [entry("no_text", text_languages=["en"])])

    _, problems = read_directory(tmp_path)

    assert len(problems) == 1 and "'text' is a dependency of 'text_languages'" in problems[0].what


def test_an_entry_for_an_audience_is_listed_only_when_asked_for(tmp_path):
    write_region(tmp_path, "aa-region", [
        entry("for_anyone", categories=["shelter"]),
        entry("for_youth", categories=["shelter"], audiences=["youth"]),
    ], scope="national")

    directory, problems = read_directory(tmp_path)

    assert problems == []
    assert [r.id for r in directory.find("shelter", "en", limit=5)] == ["for_anyone"]
    assert [r.id for r in directory.find("", "en", limit=5, audience="youth")] == ["for_youth"]
    assert [r.id for r in directory.find("shelter", "en", limit=5, audience="youth")] == ["for_youth"]
    assert directory.find("legal", "en", limit=5, audience="youth") == []


def test_an_unknown_audience_is_an_error(tmp_path):
    write_region(tmp_path, "aa-region", [entry("odd", audiences=["elders"])])

    _, problems = read_directory(tmp_path)

    assert [p.where for p in problems] == ["flows/resources/aa-region.yaml: resources[0].audiences[0]"]


def _engine_with(tmp_path, entries):
    from bot.engine import Engine
    from bot.flowdef import load_flows
    from bot.i18n import load_catalog

    write_region(tmp_path, "aa-region", entries, scope="national")
    return Engine(load_flows(REPO / "flows")["main"], load_catalog(REPO / "locales"), load_directory(tmp_path))


def test_a_text_line_that_does_not_answer_in_the_persons_language_is_left_out(tmp_path):
    engine = _engine_with(tmp_path, [
        entry("line", categories=["legal"], phone="1-800-555-0100", text="55555", languages=["en", "es"],
              interpreters=True, text_languages=["en"], name={"en": "Line", "es": "Línea"}),
    ])

    english = engine.preview("help_legal", "en").text
    spanish = engine.preview("help_legal", "es").text

    assert "- Line: Call 1-800-555-0100, Text 55555" in english
    assert "- Línea: Tel. 1-800-555-0100\n" in spanish + "\n"  # the call, with interpreters, still is offered
    assert "55555" not in spanish


def test_replies_show_each_entry_under_its_name_in_the_persons_language(tmp_path):
    engine = _engine_with(tmp_path, [
        entry("line", categories=["medical"], phone="1-800-555-0100", hours="24/7",
              name={"en": "Health Line", "es": "Línea de Salud"}),
    ])

    assert "- Health Line: Call 1-800-555-0100 (24/7)" in engine.preview("help_medical", "en").text
    assert "- Línea de Salud: Tel. 1-800-555-0100 (24/7)" in engine.preview("help_medical", "es").text


# -- what the real directory says (checked 2026-12-01 against each organization's own page) --------


def real(id: str):
    directory, _ = read_directory(RESOURCES)
    return {r.id: r for r in directory.resources}[id]


def test_the_hotline_texts_only_in_english_and_spanish_but_calls_have_interpreters():
    hotline = real("nhth")

    assert hotline.languages == ("en", "es") and hotline.interpreters
    assert hotline.text_languages == ("en", "es")
    assert dict(hotline.name_translated)["es"] == "Línea Nacional Contra la Trata de Personas"


def test_categories_say_what_each_service_does():
    # SAMHSA: "No, we do not provide counseling"; a labor agency is not a lawyer; referral lines
    # (211, the hotline) are not counseling.
    assert "counseling" not in real("samhsa_helpline").categories
    assert real("dol_whd").categories == ("work_education",)
    assert "counseling" not in real("two_one_one").categories
    assert "counseling" not in real("nhth").categories
    # the hotline refers to legal services but gives no legal help: not under "Free legal help:"
    assert "legal" not in real("nhth").categories
    assert all("nhth" != r.id for r in read_directory(RESOURCES)[0].find("legal", "en", limit=6))


def test_immigration_help_lists_an_immigration_legal_service():
    directory, _ = read_directory(RESOURCES)

    found = directory.find("immigration", "es", limit=2)

    assert "uscis_legal_services" in [r.id for r in found]
    assert real("uscis_legal_services").web == "https://www.uscis.gov/avoid-scams/find-legal-services"
    # and a legal service itself, not only a page about finding one: DOJ's list of free providers
    assert "eoir_pro_bono" in [r.id for r in found]
    assert real("eoir_pro_bono").web == "https://www.justice.gov/eoir/list-pro-bono-legal-service-providers"
    assert real("eoir_pro_bono").source.startswith("https://www.justice.gov/")


def test_the_health_center_finder_comes_first_under_medical():
    directory, _ = read_directory(RESOURCES)

    assert directory.find("medical", "en", limit=3)[0].id == "hrsa_find_health_center"
    # the address shown is an HRSA page that was read (the tool's own address was never read on one)
    assert real("hrsa_find_health_center").web == real("hrsa_find_health_center").source
    assert real("hrsa_find_health_center").web.startswith("https://bphc.hrsa.gov/")


def test_the_youth_line_is_only_for_young_people():
    directory, _ = read_directory(RESOURCES)

    assert real("nrs").audiences == ("youth",)
    assert "nrs" not in {r.id for c in CATEGORIES for r in directory.find(c, "en", limit=6)}
    assert [r.id for r in directory.find("", "es", limit=2, audience="youth")] == ["nrs"]


def test_every_real_entry_was_checked_within_a_year_of_the_review():
    # A fixed clock: the review date. `flows check` applies the same rule with today's date.
    directory, _ = read_directory(RESOURCES)

    for resource in directory.resources:
        assert dt.date(2025, 12, 1) <= dt.date.fromisoformat(resource.checked) <= dt.date(2026, 12, 1), resource.id
        assert not any(host in resource.source for host in ("wyo.gov", "span.state.gov", "votervoice", "psychreg")), resource.id
