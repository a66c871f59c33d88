"""Configuration from the environment (names as in DESIGN "Public interface").

Keys: ``SAFEHARBOR_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first) and
``SAFEHARBOR_PEPPER``. When either is absent outside production, development keys are generated
once into ``$SAFEHARBOR_HOME/dev-keys.json`` (``.safeharbor/`` by default, ignored by git) with a
warning; with ``SAFEHARBOR_ENV=production`` the service refuses to start instead.

One module per part: ``settings`` (``Settings``, the whole, and what it reads itself),
``channels``, ``handoff``, ``limits``, ``keys`` (the keys and pepper, generated for development),
``values`` (``ConfigError``, reading a whole number), ``logs`` (``SAFEHARBOR_LOG_LEVEL``). Every name is importable from here.
"""

from bot.config.channels import ChannelSettings
from bot.config.handoff import HandoffSettings
from bot.config.keys import generate_keys
from bot.config.limits import LimitSettings
from bot.config.logs import configure_logging
from bot.config.settings import ENVIRONMENTS, PACKAGE_ROOT, TRUSTED_PROXIES_ENV, Settings, trusted_proxies_from_env
from bot.config.values import ConfigError, whole_number

__all__ = [
    "ENVIRONMENTS", "PACKAGE_ROOT", "TRUSTED_PROXIES_ENV", "ChannelSettings", "ConfigError", "HandoffSettings", "LimitSettings",
    "Settings", "configure_logging", "generate_keys", "trusted_proxies_from_env", "whole_number",
]
