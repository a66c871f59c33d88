"""``{type: set_language, language: es}``: answer in Spanish from now on.

The person chose it, so a channel's language hint no longer overrides it.
"""

from bot.domain.events import LanguageChanged
from bot.engine.actions import action


@action("set_language")
def run(act, turn) -> None:
    language = str(act.get("language"))
    changed = turn.session.language != language
    turn.session.language = language
    turn.session.language_chosen = True
    if changed:
        turn.events.append(LanguageChanged(language))
