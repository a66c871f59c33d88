"""The pure conversation engine: ``Engine(flow, catalog, directory).resume(session, inbound, now)``."""

from bot.engine.engine import Engine, ResourceLookup
from bot.engine.machine import FlowViolation
from bot.engine.matching import normalize
from bot.engine.session import Session
from bot.engine.turn import Turn

__all__ = ["Engine", "FlowViolation", "ResourceLookup", "Session", "Turn", "normalize"]
