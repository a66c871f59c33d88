"""JSON Schema of a flow file (``spec_version: 1``), with each action type's fields.

Action types are not named here: each has its module in ``bot/flowdef/actions/`` (its fields,
texts and checks) and its executor in ``bot/engine/actions/``.
"""

from __future__ import annotations

from bot.flowdef.actions import SPECS

SPEC_VERSION = 1
KEY = {"type": "string", "pattern": r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"}
STEP_ID = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"}
TARGET = {"type": "string", "pattern": r"^([a-z][a-z0-9_]*|@back)$"}

# type -> JSON Schema of the action's own fields (besides `type`).
ACTION_SCHEMAS: dict[str, dict] = {name: spec.schema for name, spec in SPECS.items()}
# Names the engine fills itself in the texts of its actions (resource lines), and in plurals.
ENGINE_PLACEHOLDERS = ("count", *dict.fromkeys(name for spec in SPECS.values() for name in spec.placeholders))


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
                "not": {"enum": list(ENGINE_PLACEHOLDERS)},
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
