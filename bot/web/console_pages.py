"""The console pages (``GET /console``, the advocates' desk; ``GET /console/studio``, the content
studio) and their scripts and styles, served as files: no inline script, so the
Content-Security-Policy can forbid it. A new file is served once it is listed in ``ASSETS``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

FILES = Path(__file__).resolve().parent / "console"
JS, CSS = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
ASSETS = {
    "console.js": JS, "console.css": CSS,
    # the content studio (GET /console/studio): its shell, then one script per screen
    "studio.js": JS, "studio.css": CSS, "studio-translations.js": JS, "studio-files.js": JS, "studio-history.js": JS, "studio-start.js": JS,
    "studio-try.js": JS, "studio-try.css": CSS,
    "people.js": JS,  # admins' People screen
    "studio-steps.js": JS, "studio-resources.js": JS, "studio-diagram.js": JS, "studio-diagram.css": CSS,
}
# libraries the pages use, copied from their packages (vendor/README.md: versions, licenses)
VENDOR = {"cytoscape.min.js": JS, "cytoscape-dagre.min.js": JS}


def add_console(app: FastAPI) -> None:
    @app.get("/console", include_in_schema=False)
    async def page():
        return FileResponse(FILES / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/console/studio", include_in_schema=False)
    async def studio():
        return FileResponse(FILES / "studio.html", media_type="text/html; charset=utf-8")

    @app.get("/console/vendor/{name}", include_in_schema=False)
    async def vendored(name: str):
        if name not in VENDOR:
            raise HTTPException(404)
        return FileResponse(FILES / "vendor" / name, media_type=VENDOR[name])

    @app.get("/console/{name}", include_in_schema=False)
    async def asset(name: str):
        if name not in ASSETS:
            raise HTTPException(404)
        return FileResponse(FILES / name, media_type=ASSETS[name])
