"""``{type: list_resources, category: legal, limit: 3}``: append directory entries for a need.

``{type: list_resources, audience: youth}`` lists only the entries for that audience (any need);
``limit`` (1 to 6) defaults to ``LIMIT``. Example of the lines added (English)::

    - National Human Trafficking Hotline: Call 1-888-373-7888, Text 233733 (24/7)
    - LawHelp.org: www.lawhelp.org

Each line is a ``resource.*`` text of the catalog, with the entry's ``{name}``, ``{contacts}``,
``{hours}`` and so on; ``resources.none`` points to the 24/7 line when there is no entry.
"""

from __future__ import annotations

from bot.domain.problems import AUDIENCES, CATEGORIES
from bot.flowdef.actions import ActionSpec, ResourceQuery

LIMIT = 3  # entries shown when the action gives no `limit`


def query(action) -> ResourceQuery:
    """What ``action`` asks of the directory (the executor and the directory checks agree)."""
    return ResourceQuery(
        str(action.get("category") or ""), str(action.get("audience") or ""), int(action.get("limit", LIMIT))
    )


SPEC = ActionSpec(
    "list_resources",
    schema={
        "required": [],
        "anyOf": [{"required": ["category"]}, {"required": ["audience"]}],
        "properties": {
            "category": {"enum": list(CATEGORIES)},
            "audience": {"enum": list(AUDIENCES)},
            "limit": {"type": "integer", "minimum": 1, "maximum": 6},
        },
    },
    text_keys=(
        "resources.none",
        "resource.line",
        "resource.line_no_hours",
        "resource.call",
        "resource.text",
        "resource.text_keyword",
        "resource.hours_247",
    ),
    placeholders=("name", "contacts", "hours", "phone", "number", "keyword", "web"),
    resources=query,
)
