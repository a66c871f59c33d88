"""The console page (``GET /console``) and its script and style, served as files: no inline
script, so the Content-Security-Policy can forbid it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

FILES = Path(__file__).resolve().parent / "console"
ASSETS = {
    "console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8",
    "people.js": "text/javascript; charset=utf-8",  # admins' People screen
}


def add_console(app: FastAPI) -> None:
    @app.get("/console", include_in_schema=False)
    async def page():
        return FileResponse(FILES / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/console/{name}", include_in_schema=False)
    async def asset(name: str):
        if name not in ASSETS:
            raise HTTPException(404)
        return FileResponse(FILES / name, media_type=ASSETS[name])
