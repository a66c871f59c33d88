"""The content bundle as revisions (bot/content): seeded from the files, saved with conflict
checks, published only when it passes `flows check`'s checks, followed by every process between
turns, rolled back, compared, audited; and the `safeharbor content` commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.config import Settings, generate_keys
from bot.content import Bundle, BundleError, Conflict, LiveContent, Refused, compare, read_content
from bot.domain import Channel, Inbound
from bot.service import FALLBACK_TEXT, Service
from bot.store.database import read_connection
from bot.store.tables import audit_log
from sqlalchemy import select
from tests.conftest import REPO

ES = "locales/es.yaml"
EN = "locales/en.yaml"
FLOW = "flows/main.yaml"


def settings_for(tmp_path, database_url, content_dir=REPO) -> Settings:
    return Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path / "home"), "SAFEHARBOR_CONTENT_DIR": str(content_dir),
        "DATABASE_URL": database_url, **generate_keys(),
    })


@pytest.fixture
def deployment(tmp_path, database_url, clock):
    """One process of a deployment (and ``other()``: another one on the same database)."""
    settings = settings_for(tmp_path, database_url)
    services = []

    def start() -> Service:
        service = Service.from_settings(settings, clock=clock)
        services.append(service)
        return service

    first = start()
    first.other = start
    first.settings = settings
    yield first
    for service in services:
        service.close()


def es_text(service: Service, key: str) -> str:
    return yaml.safe_load(service.studio.revisions.get(service.studio.revisions.head_number()).bundle.files[ES])["text"][key]


def edited(bundle: Bundle, path: str, old: str, new: str) -> Bundle:
    assert old in bundle.files[path], old
    return bundle.replacing({path: bundle.files[path].replace(old, new, 1)})


def reply(service: Service, address: str, text: str) -> str:
    return "\n".join(o.text for o in service.handle(Inbound(Channel.SMS, address, text)))


# -- the bundle ----------------------------------------------------------------------------------------

def test_a_bundle_reads_like_the_folder_it_came_from_and_writes_it_back_exactly(tmp_path):
    bundle = Bundle.from_directory(REPO)
    assert {FLOW, EN, ES, "flows/resources/us-national.yaml", "locales/understanding/es.yaml"} <= set(bundle.files)
    from_files, from_bundle = read_content(REPO)[0], read_content(bundle.root())[0]
    assert from_bundle.catalog.languages == from_files.catalog.languages
    assert set(from_bundle.flows["main"].steps) == set(from_files.flows["main"].steps)
    assert [r.id for r in from_bundle.directory.resources] == [r.id for r in from_files.directory.resources]
    out = tmp_path / "export"
    (out / "locales").mkdir(parents=True)
    (out / "locales" / "xx.yaml").write_text("stale: true\n")  # not in the bundle: removed
    bundle.write_to(out)
    assert Bundle.from_directory(out) == bundle
    assert (out / ES).read_bytes() == (REPO / ES).read_bytes()


@pytest.mark.parametrize("path", ["../etc/passwd.yaml", "flows/main.txt", "secrets/keys.yaml", "locales/a/b/c.yaml", "/abs.yaml", "flows/.hidden.yaml"])
def test_a_bundle_holds_only_content_files_of_the_layout(path):
    with pytest.raises(BundleError) as refused:
        Bundle({path: "a: 1\n"})
    assert refused.value.problems[0].where == path


# -- revisions -----------------------------------------------------------------------------------------

def test_a_new_deployment_serves_its_files_as_revision_1_and_a_second_process_does_not_import_again(deployment):
    assert deployment.content.revision == 1
    (first,) = deployment.studio.revisions.history()
    assert (first.number, first.status, first.author) == (1, "published", "files")
    assert deployment.other().content.revision == 1
    assert len(deployment.studio.revisions.history()) == 1


def test_saves_from_the_same_revision_merge_when_they_touch_different_files_and_conflict_when_not(deployment):
    studio = deployment.studio
    start = studio.revisions.get(1).bundle
    ana = studio.save(edited(start, ES, "Hola, gracias por escribir.", "Hola, gracias por tu mensaje."), 1, "ana@example.org", "es greeting")
    ben = studio.save(edited(start, EN, "Hi, thanks for writing.", "Hello, thanks for writing."), 1, "ben@example.org", "en greeting")
    merged = studio.revisions.get(ben.number).bundle.files
    assert "Hola, gracias por tu mensaje." in merged[ES] and "Hello, thanks for writing." in merged[EN]  # nothing lost
    assert ben.tags["languages"] == ["en"] and ben.base == ana.number
    with pytest.raises(Conflict) as conflict:
        studio.save(edited(start, ES, "Hola, gracias por escribir.", "Buenas, gracias por escribir."), 1, "cruz@example.org", "es again")
    assert conflict.value.files == [ES]
    assert {r.author for r in conflict.value.since} == {"ana@example.org", "ben@example.org"}
    assert "ana@example.org" in str(conflict.value) and ES in str(conflict.value)
    assert studio.revisions.head_number() == ben.number  # the refused save wrote nothing
    mine = studio.save(edited(start, ES, "Hola, gracias por escribir.", "Buenas, gracias por escribir."), 1, "cruz@example.org", "es again", overwrite=True)
    files = studio.revisions.get(mine.number).bundle.files
    assert "Buenas, gracias por escribir." in files[ES] and "Hello, thanks for writing." in files[EN]


def test_a_publish_with_errors_is_refused_with_file_path_problem_and_the_live_revision_stays(deployment):
    studio = deployment.studio
    start = studio.revisions.get(1).bundle
    broken = start.replacing({FLOW: start.files[FLOW].replace("menu: main_menu", "menu: no_such_step", 1)})
    draft = studio.save(broken, 1, "ana@example.org", "typo")
    with pytest.raises(Refused) as refused:
        studio.publish(draft.number, "ana@example.org")
    assert "flows/main.yaml: menu: no step named 'no_such_step'" in [str(p) for p in refused.value.problems]
    assert studio.revisions.published_number() == 1 and deployment.content.revision == 1
    assert "Hola" in reply(deployment, "+15550100001", "hola")  # still serving


def test_a_published_revision_reaches_this_process_at_once_and_another_at_its_next_poll(deployment):
    other = deployment.other()
    studio = deployment.studio
    start = studio.revisions.get(1).bundle
    old = yaml.safe_load(start.files[EN])["text"]["welcome.greeting"].splitlines()[0]
    assert reply(other, "+15550100002", "hi").startswith(old)
    draft = studio.save(edited(start, EN, old, "Hi there, thanks for writing to us."), 1, "ana@example.org", "warmer")
    studio.publish(draft.number, "ana@example.org")
    assert reply(deployment, "+15550100003", "hi").startswith("Hi there, thanks for writing to us.")
    assert reply(other, "+15550100004", "hi").startswith(old)  # not polled yet
    assert other.watcher.refresh() is True and other.content.revision == draft.number
    assert reply(other, "+15550100005", "hi").startswith("Hi there, thanks for writing to us.")
    assert other.watcher.refresh() is False  # nothing newer


def test_a_turn_reads_the_revision_it_began_with_even_when_another_is_published_meanwhile(content):
    live = LiveContent(content, revision=1)
    newer = read_content(REPO)[0]
    with live.pinned():
        live.switch(newer, revision=2)
        assert live.revision == 1 and live.current is content
    assert live.revision == 2 and live.current is newer


def test_a_conversation_resting_on_a_step_the_new_revision_removed_continues_gently_from_the_menu(deployment):
    studio = deployment.studio
    address = "+15550100006"
    flow = yaml.safe_load(studio.revisions.get(1).bundle.files[FLOW])
    # walk to a step reachable from the menu by its first choice
    first_reply = reply(deployment, address, "hola")
    assert first_reply
    session_step = _state(deployment, address)
    assert session_step in flow["steps"]
    # a revision without that step, with every reference to it moved to the menu
    text = studio.revisions.get(1).bundle.files[FLOW]
    removed = _without_step(text, session_step, flow["menu"])
    draft = studio.save(studio.revisions.get(1).bundle.replacing({FLOW: removed}), 1, "ana@example.org", f"remove {session_step}")
    studio.publish(draft.number, "ana@example.org")
    answer = reply(deployment, address, "1")  # written to the step that is gone: the menu, not its first choice
    assert answer and FALLBACK_TEXT.split("\n")[0] not in answer
    assert _state(deployment, address) == flow["menu"]
    assert reply(deployment, address, "salir")  # and the quick exit still works from there
    pseudonym = deployment.pseudonyms.of(Channel.SMS.value, address)
    with deployment.store.conversation(pseudonym, deployment.clock()) as held:
        assert held.session is None


def _state(service: Service, address: str) -> str:
    pseudonym = service.pseudonyms.of(Channel.SMS.value, address)
    with service.store.conversation(pseudonym, service.clock()) as held:
        return held.session.state


def _without_step(text: str, step: str, menu: str) -> str:
    document = yaml.safe_load(text)
    del document["steps"][step]
    if document["start"] == step:
        document["start"] = menu

    def retarget(node):
        if isinstance(node, dict):
            return {k: (menu if k == "goto" and v == step else retarget(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [retarget(v) for v in node]
        return node

    document = retarget(document)
    document["intents"] = {k: (menu if v == step else v) for k, v in document.get("intents", {}).items()}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def test_rollback_publishes_an_earlier_revision_as_a_new_one_and_every_move_is_audited(deployment):
    studio = deployment.studio
    start = studio.revisions.get(1).bundle
    draft = studio.save(edited(start, ES, "Hola, gracias por escribir.", "Hola, gracias por tu mensaje."), 1, "ana@example.org", "es")
    studio.publish(draft.number, "ana@example.org")
    back = studio.rollback(1, "root@example.org")
    assert back.number == draft.number + 1 and back.status == "published" and back.digest == studio.revisions.get(1).digest
    assert deployment.content.revision == back.number
    assert [r.status for r in studio.revisions.history()] == ["published", "archived", "archived"]
    with read_connection(deployment.records.store.engine) as connection:
        trail = [(r.actor, r.action, r.label) for r in connection.execute(select(audit_log).order_by(audit_log.c.id))]
    assert ("files", "content_imported", "revision 1") in trail
    assert ("ana@example.org", "content_saved", f"revision {draft.number}") in trail
    assert ("ana@example.org", "content_published", f"revision {draft.number}") in trail
    assert ("root@example.org", "content_saved", f"revision {back.number}") in trail
    assert ("root@example.org", "content_rolled_back", f"revision {back.number}") in trail


def test_a_diff_says_which_text_of_which_language_changed_before_and_after():
    start = Bundle.from_directory(REPO)
    after = edited(start, ES, "Hola, gracias por escribir.", "Hola, gracias por tu mensaje.")
    after = after.replacing({FLOW: after.files[FLOW].replace("idle_timeout_minutes:", "idle_timeout_minutes: ", 1)})
    changes = compare(start, after)
    (text,) = [c for c in changes if c.kind == "text"]
    assert (text.file, text.language, text.change) == (ES, "es", "changed")
    assert "Hola, gracias por escribir." in text.before and "Hola, gracias por tu mensaje." in text.after
    assert compare(start, start) == []


# -- the command line ------------------------------------------------------------------------------------

@pytest.fixture
def cli_env(tmp_path, database_url, monkeypatch, deployment):
    for name, value in {
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path / "home"), "DATABASE_URL": database_url,
        "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "SAFEHARBOR_ENCRYPTION_KEYS": ",".join(deployment.settings.encryption_keys),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAFEHARBOR_PEPPER", generate_keys()["SAFEHARBOR_PEPPER"])
    return deployment


def test_content_export_edit_import_publish_history_rollback_on_the_command_line(cli_env, tmp_path, capsys):
    out = tmp_path / "content"
    assert main(["content", "export", str(out)]) == 0
    assert (out / ES).read_bytes() == (REPO / ES).read_bytes()
    err = capsys.readouterr().err
    assert f"{ES}" in err  # progress, file by file
    (out / EN).write_text((out / EN).read_text().replace("Hi, thanks for writing.", "Hello, and thank you for writing.", 1))
    assert main(["content", "import", str(out), "-m", "Warmer greeting", "--publish"]) == 0
    assert "revision 2 published" in capsys.readouterr().out
    cli_env.watcher.refresh()
    assert reply(cli_env, "+15550100007", "hola").startswith("Hello, and thank you for writing.")
    assert main(["content", "history"]) == 0
    listed = capsys.readouterr().out
    assert "Warmer greeting" in listed and "languages: en" in listed
    assert main(["content", "diff", "1", "2"]) == 0
    assert "Hello, and thank you for writing." in capsys.readouterr().out
    assert main(["content", "rollback", "1"]) == 0
    assert "published as revision 3" in capsys.readouterr().out
    cli_env.watcher.refresh()
    assert reply(cli_env, "+15550100008", "hola").startswith("Hi, thanks for writing.")


def test_content_import_with_errors_is_saved_as_a_draft_and_publish_is_refused_with_the_problem_lines(cli_env, tmp_path, capsys):
    out = tmp_path / "content"
    shutil.copytree(REPO / "flows", out / "flows")
    shutil.copytree(REPO / "locales", out / "locales")
    flow = out / FLOW
    flow.write_text(flow.read_text().replace("menu: main_menu", "menu: no_such_step", 1))
    assert main(["content", "import", str(out), "--publish"]) == 1
    err = capsys.readouterr().err
    assert "flows/main.yaml: menu: no step named 'no_such_step'" in err and "nothing was published" in err
    assert cli_env.studio.revisions.published_number() == 1
    assert main(["content", "publish"]) == 1
    assert main(["content", "check", "1"]) == 0


def test_export_of_one_language_for_a_translator_writes_only_its_files(cli_env, tmp_path, capsys):
    out = tmp_path / "es"
    assert main(["content", "export", str(out), "--language", "es"]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert written == ["locales/es.yaml", "locales/understanding/es.yaml"]
    assert main(["content", "export", str(out), "--language", "xx"]) == 1
