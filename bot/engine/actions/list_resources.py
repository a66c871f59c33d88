"""Executor of ``list_resources`` (fields and an example: ``bot.flowdef.actions.list_resources``).

Appends one line per directory entry under the previous text, in the person's language, e.g.::

    - National Human Trafficking Hotline: Call 1-888-373-7888, Text 233733 (24/7)
    - LawHelp.org: www.lawhelp.org

and in Spanish, with the names the directory gives per language::

    - Línea Nacional Contra la Trata de Personas: Tel. 1-888-373-7888, SMS 233733 (24/7)

Entries with an audience never appear in the lists for everyone. Entries come from the directory
the engine was given (national first, then the deployment's region); when there are none,
``resources.none`` points to the 24/7 line instead. A text line that does not answer in the
person's language (``text_languages``) is left out: the call, with interpreters, still is shown.
"""

from bot.domain.messages import hours_in, name_in, texts_in
from bot.engine.actions import action
from bot.flowdef.actions.list_resources import query


@action("list_resources")
def run(act, turn) -> None:
    asked = query(act)
    lang = turn.session.language
    found = turn.engine.directory.find(asked.category, lang, asked.limit, asked.audience) if turn.engine.directory else ()
    if not found:
        turn.add_lines([turn.text("resources.none")])
        return
    turn.add_lines([_line(turn, resource) for resource in found])


def _line(turn, resource) -> str:
    language, default = turn.session.language, turn.engine.catalog.default
    contacts = []
    if resource.phone:
        contacts.append(turn.text("resource.call", phone=resource.phone))
    if resource.text and texts_in(resource, language):
        if resource.text_keyword:
            contacts.append(turn.text("resource.text_keyword", keyword=resource.text_keyword, number=resource.text))
        else:
            contacts.append(turn.text("resource.text", number=resource.text))
    if resource.web and not resource.phone:
        contacts.append(resource.web.removeprefix("https://").removeprefix("http://"))
    hours = turn.text("resource.hours_247") if resource.hours == "24/7" else hours_in(resource, language, default)
    key = "resource.line" if hours else "resource.line_no_hours"
    return turn.text(key, name=name_in(resource, language, default), contacts=", ".join(contacts), hours=hours)
