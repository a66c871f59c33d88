"""Flows as data: the typed document, its loader and validation, inspection, Mermaid export."""

from bot.flowdef.inspect import (
    CARRIER_OPT_OUT_WORDS,
    DEFAULT_RESOURCE_MAX_AGE_MONTHS,
    StepCost,
    inspect,
    plain_message_problems,
    resource_problems,
    step_costs,
)
from bot.flowdef.loader import load_flows, read_flow, read_flows
from bot.flowdef.mermaid import to_mermaid
from bot.flowdef.model import BACK, Action, Choice, Command, Flow, Route, Step
from bot.flowdef.schema import ACTION_SCHEMAS, SPEC_VERSION

__all__ = [
    "ACTION_SCHEMAS",
    "BACK",
    "CARRIER_OPT_OUT_WORDS",
    "SPEC_VERSION",
    "Action",
    "Choice",
    "Command",
    "Flow",
    "Route",
    "Step",
    "StepCost",
    "inspect",
    "plain_message_problems",
    "resource_problems",
    "DEFAULT_RESOURCE_MAX_AGE_MONTHS",
    "load_flows",
    "read_flow",
    "read_flows",
    "step_costs",
    "to_mermaid",
]
