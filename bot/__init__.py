"""safeharbor: a survivor-facing messaging assistant.

The package is layered as ``../shared/DESIGN.md`` describes: ``domain`` (plain types), ``i18n``,
``flowdef`` (flows as data), ``engine`` (pure conversation logic), ``store`` (encrypted state),
``channels`` (adapters), ``service`` (the one orchestrator) and ``cli``.
"""

__version__ = "0.1.0"
