"""JSON Schema of a flow file (``spec_version: 1``) and of each action type.

Adding an action type: add its fields here, its executor in ``bot/engine/actions/``.
"""

from __future__ import annotations

from bot.domain.problems import AUDIENCES, CATEGORIES

SPEC_VERSION = 1
LIST_RESOURCES_LIMIT = 3  # entries a list_resources action shows when it gives no `limit`
KEY = {"type": "string", "pattern": r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"}
STEP_ID = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"}
TARGET = {"type": "string", "pattern": r"^([a-z][a-z0-9_]*|@back)$"}

# type -> JSON Schema of the action's own fields (besides `type`).
ACTION_SCHEMAS: dict[str, dict] = {
    # {type: set_language, language: es}: from now on, answer in Spanish.
    "set_language": {
        "required": ["language"],
        "properties": {"language": {"type": "string", "pattern": "^[a-z]{2,3}(-[a-z0-9]{2,8})?$"}},
    },
    # {type: list_resources, category: legal, limit: 3}: append directory entries for a need
    # (LIST_RESOURCES_LIMIT of them when no limit is given).
    # {type: list_resources, audience: youth}: the entries only for that audience (any need).
    "list_resources": {
        "required": [],
        "anyOf": [{"required": ["category"]}, {"required": ["audience"]}],
        "properties": {
            "category": {"enum": list(CATEGORIES)},
            "audience": {"enum": list(AUDIENCES)},
            "limit": {"type": "integer", "minimum": 1, "maximum": 6},
        },
    },
    # {type: mark_urgent}: the person may be in danger; a handoff they ask for is urgent.
    "mark_urgent": {"properties": {}},
    # {type: request_advocate, replies: check_back}: the person consented to talk to a person;
    # ``write``: they may be written to when an advocate answers; ``check_back`` (the default):
    # what the advocate writes waits for their next message.
    "request_advocate": {"properties": {"replies": {"enum": ["write", "check_back"]}}},
    # {type: erase}: quick exit; everything held about the person is destroyed now.
    "erase": {"properties": {}},
    # {type: end}: the conversation is over; nothing about it is kept.
    "end": {"properties": {}},
}


def _action_schema() -> dict:
    variants = []
    for name, spec in ACTION_SCHEMAS.items():
        variants.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {
                    "required": ["type", *spec.get("required", [])],
                    "additionalProperties": False,
                    "properties": {"type": {"const": name}, **spec["properties"]},
                    **({"anyOf": spec["anyOf"]} if "anyOf" in spec else {}),
                },
            }
        )
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(ACTION_SCHEMAS)}},
        "allOf": variants,
    }


ACTION = _action_schema()
ACTIONS = {"type": "array", "items": ACTION}

FLOW_SCHEMA = {
    "type": "object",
    "required": ["spec_version", "flow", "start", "menu", "reprompt", "text_only", "edited", "steps", "commands"],
    "additionalProperties": False,
    "properties": {
        "spec_version": {"const": SPEC_VERSION},
        "flow": STEP_ID,
        "description": {"type": "string"},
        "start": STEP_ID,
        "menu": STEP_ID,
        "reprompt": KEY,
        "text_only": KEY,
        "edited": KEY,
        "unsure": KEY,
        "noted": KEY,
        # intent id -> step id; see bot.understanding
        "intents": {
            "type": "object",
            "propertyNames": {"pattern": r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"},
            "additionalProperties": STEP_ID,
        },
        "idle_timeout_minutes": {"type": "integer", "minimum": 1, "maximum": 60 * 24 * 30},
        "vars": {
            "type": "object",
            # names the engine fills itself (resource lines, plurals) cannot be flow vars
            "propertyNames": {
                "pattern": "^[a-z_][a-z0-9_]*$",
                "not": {"enum": ["count", "name", "contacts", "hours", "phone", "number", "keyword", "web"]},
            },
            "additionalProperties": {"type": "string"},
        },
        "commands": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "match", "goto"],
                "additionalProperties": False,
                "properties": {
                    "id": STEP_ID,
                    "match": KEY,
                    "goto": TARGET,
                    "contains": {"type": "boolean"},
                    "remember": {"type": "boolean"},
                    "restart": {"type": "boolean"},
                    "while_held": {"type": "boolean"},
                },
            },
        },
        "steps": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": STEP_ID,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "say": {"type": "array", "items": KEY},
                    "actions": ACTIONS,
                    "choices": {
                        "type": "array",
                        "maxItems": 9,  # one digit each on SMS, and a screen's worth of buttons
                        "items": {
                            "type": "object",
                            "required": ["label", "goto"],
                            "additionalProperties": False,
                            "properties": {"label": KEY, "match": KEY, "goto": TARGET, "actions": ACTIONS},
                        },
                    },
                    "routes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["match", "goto"],
                            "additionalProperties": False,
                            "properties": {"match": KEY, "goto": TARGET},
                        },
                    },
                },
            },
        },
    },
}

# Texts the engine uses to list resources (any flow with a list_resources action needs them),
# and the placeholders those texts may use.
RESOURCE_TEXT_KEYS = (
    "resources.none",
    "resource.line",
    "resource.line_no_hours",
    "resource.call",
    "resource.text",
    "resource.text_keyword",
    "resource.hours_247",
)
RESOURCE_PLACEHOLDERS = frozenset({"name", "contacts", "hours", "phone", "number", "keyword", "web"})
