"""``{type: list_resources, category: legal, limit: 3}``: append directory entries for a need.

Example of the lines added (English)::

    - National Human Trafficking Hotline: Call 1-888-373-7888, Text 233733 (24/7)
    - LawHelp.org: https://www.lawhelp.org

Entries come from the directory the engine was given (national first, then the deployment's
region); when there are none, ``resources.none`` points to the 24/7 line instead.
"""

from bot.domain.messages import hours_in
from bot.engine.actions import action


@action("list_resources")
def run(act, turn) -> None:
    category = str(act.get("category"))
    limit = int(act.get("limit", 3))
    lang = turn.session.language
    found = turn.engine.directory.find(category, lang, limit) if turn.engine.directory else ()
    if not found:
        turn.add_lines([turn.text("resources.none")])
        return
    turn.add_lines([_line(turn, resource) for resource in found])


def _line(turn, resource) -> str:
    contacts = []
    if resource.phone:
        contacts.append(turn.text("resource.call", phone=resource.phone))
    if resource.text and resource.text_keyword:
        contacts.append(turn.text("resource.text_keyword", keyword=resource.text_keyword, number=resource.text))
    elif resource.text:
        contacts.append(turn.text("resource.text", number=resource.text))
    if resource.web and not resource.phone:
        contacts.append(resource.web.removeprefix("https://").removeprefix("http://"))
    hours = turn.text("resource.hours_247") if resource.hours == "24/7" else hours_in(resource, turn.session.language, turn.engine.catalog.default)
    key = "resource.line" if hours else "resource.line_no_hours"
    return turn.text(key, name=resource.name, contacts=", ".join(contacts), hours=hours)
