"""Channel adapters: each verifies, parses into ``Inbound`` and renders ``Outbound`` for its channel."""
