"""Executor of ``set_language`` (spec: ``bot.flowdef.actions.set_language``): the session's
language from now on, marked as chosen, so a channel's language hint no longer overrides it;
``LanguageChanged`` when it differs.
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
