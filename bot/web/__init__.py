"""The ASGI app: provider webhooks, the health check, the advocates' console and its API."""

from bot.web.app import create_app

__all__ = ["create_app"]
