"""``/api/content...``: the content studio. Revisions, their files and differences, checks,
drafts, publishing and rollback. Who may do what is the desk's (``bot.service.content_desk``):
admins everything, translators their languages' drafts, advocates nothing.

    GET  /api/content                              the published and newest revision, my languages
    GET  /api/content/revisions                    history, newest first
    GET  /api/content/revisions/{n}                a revision's summary and files
    GET  /api/content/revisions/{a}/diff/{b}       what changed, per step, text and resource
    POST /api/content/edit                         one file's text with a form's edits applied (nothing saved)
    POST /api/content/check                        problems of base + changes (nothing saved)
    POST /api/content/flow-view                    a flow of base + changes, structured (Steps, Diagram)
    POST /api/content/resources-view               the directory of base + changes, with re-check dates
    POST /api/content/revisions                    save a draft (409: someone changed the same files)
    POST /api/content/revisions/{n}/publish        check and publish (422 with the problems)
    POST /api/content/revisions/{n}/rollback       publish revision n's files as a new revision
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from bot.service.console import SessionUser
from bot.service.content_desk import ContentDesk
from bot.web.api.deps import current
from bot.web.api.errors import call

router = APIRouter(prefix="/content", tags=["content"])


class Edit(BaseModel):
    base: int | None = Field(description="the revision the editor started from")
    changes: dict[str, str | None] = Field(
        description="path -> the file's new text (null removes it), e.g. {\"locales/es.yaml\": \"...\"}", max_length=400,
    )


class SaveBody(Edit):
    message: str = Field(default="", max_length=500)
    overwrite: bool = Field(default=False, description="after a conflict: my files win over the others' changes to them")


class FlowViewBody(Edit):
    flow: str = Field(default="main", pattern=r"^[a-z][a-z0-9_]*$", max_length=60, description="the flow's name (`flow:` in its file)")


class EditBody(BaseModel):
    text: str = Field(description="the file's current text in the editor's working copy", max_length=2_000_000)
    edits: list[dict] = Field(
        description='e.g. [{"path": ["text", "menu.text"], "value": "Hola"}, {"path": ["steps", "old"], "delete": true}]',
        max_length=2000,
    )


def studio(request: Request) -> ContentDesk:
    """The app's content desk (bound by ``build_api``)."""
    return request.state.api.content



@router.get("")
async def overview(who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """The published revision, the newest one, the revision this process serves, and the
    languages the caller may edit."""
    return await call(desk.overview, who)


@router.get("/revisions")
async def history(limit: int = Query(200, ge=1, le=1000), who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """Every revision, newest first: number, status, author, time, message, change tags."""
    return await call(desk.history, who, limit)


@router.get("/revisions/{number}")
async def revision(number: int, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    return await call(desk.revision, who, number)


@router.get("/revisions/{before}/diff/{after}")
async def diff(before: int, after: int, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """Each change: kind (step, text, match, resource, ...), file, item, language, added /
    removed / changed, and the item before and after as text."""
    return await call(desk.diff, who, before, after)


@router.post("/edit", responses={422: {}})
async def edit(body: EditBody, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """The file with ``edits`` applied, its comments, order and style kept; 422 naming the edit
    that cannot be applied."""
    return {"text": await call(desk.edit, who, body.text, body.edits)}


@router.post("/check")
async def check(body: Edit, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """The problems ``base`` with ``changes`` would have, errors first (nothing is saved)."""
    return await call(desk.check, who, body.base, body.changes)


@router.post("/flow-view")
async def flow_view(body: FlowViewBody, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """The working copy's flow as steps (say keys with the base language's texts, choices,
    routes, actions, whether it ends the conversation), its global commands and intents;
    ``error`` when its file cannot be read (nothing is saved)."""
    return await call(desk.flow_view, who, body.base, body.changes, body.flow)


@router.post("/resources-view")
async def resources_view(body: Edit, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """The working copy's resource entries per file, each with ``due`` (why it is due for a
    re-check, or null), and the fields the directory requires (nothing is saved)."""
    return await call(desk.resources_view, who, body.base, body.changes)


@router.post("/revisions", status_code=201, responses={409: {}, 403: {}})
async def save(body: SaveBody, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """A new draft revision. 409 when another editor changed the same files since ``base``:
    the answer names them, their revisions and what they changed; reload, or save again with
    ``overwrite``."""
    return await call(desk.save, who, body.base, body.changes, body.message, body.overwrite)


@router.post("/revisions/{number}/publish", responses={422: {}})
async def publish(number: int, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """Check revision ``number`` as ``flows check`` would and publish it; 422 with every
    problem when it has errors (the published revision stays)."""
    return await call(desk.publish, who, number)


@router.post("/revisions/{number}/rollback", responses={422: {}})
async def rollback(number: int, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """Revision ``number``'s files, published as a new revision."""
    return await call(desk.rollback, who, number)

