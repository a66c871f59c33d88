"""The ASGI app: provider webhooks, the health check, and (later) the console and its API."""

from bot.web.app import create_app

__all__ = ["create_app"]
