"""``/api/content...``: the content studio. Revisions, their files and differences, checks,
drafts, publishing and rollback. Who may do what is the desk's (``bot.service.content_desk``):
admins everything, translators their languages' drafts, advocates nothing.

    GET  /api/content                              the published and newest revision, my languages
    GET  /api/content/revisions                    history, newest first
    GET  /api/content/revisions/{n}                a revision's summary and files
    GET  /api/content/revisions/{a}/diff/{b}       what changed, per step, text and resource
    POST /api/content/edit                         one file's text with a form's edits applied (nothing saved)
    POST /api/content/try                          the working copy's conversation, as SMS or Telegram shows it (nothing kept)
    POST /api/content/check                        problems of base + changes (nothing saved)
    POST /api/content/flow-view                    a flow of base + changes, structured (Steps, Diagram)
    POST /api/content/resources-view               the directory of base + changes, with re-check dates
    POST /api/content/revisions                    save a draft (409: someone changed the same files)
    POST /api/content/revisions/{n}/publish        check and publish (422 with the problems)
    POST /api/content/revisions/{n}/rollback       publish revision n's files as a new revision
    GET  /api/content/revisions/{n}/translations/{code}  a language beside the base one: rows, progress
    POST /api/content/translations/{code}          the same for base + changes (the working copy)
    POST /api/content/text-check                   a text as sent: SMS cost, lock-screen preview, placeholders
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


class TryBody(Edit):
    language: str = Field(description="the language chosen, e.g. es (the channel's hint; the person still chooses)", max_length=16)
    channel: str = Field(description="render the replies as this channel would (the channels GET /api/content lists)", max_length=16)
    messages: list[str | dict[str, str]] = Field(
        description='the person\'s messages so far, oldest first: text, or on a channel with buttons a pressed one {"button": "choice:2:s0"}',
        max_length=50,
    )


class TextCheckBody(BaseModel):
    language: str = Field(max_length=20, description="the language the text is in, e.g. es")
    key: str | None = Field(default=None, max_length=200, description="the text key, to compare placeholders with the base text")
    text: str = Field(max_length=20_000)
    base_text: str | None = Field(default=None, max_length=20_000, description="the base-language text (default: the served one of key)")


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


@router.post("/try", responses={422: {}})
async def try_it(body: TryBody, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """The person's messages replayed from a new conversation on ``base`` + ``changes``: for
    each, the replies as the channel renders them (SMS: text, encoding, segments; Telegram: text
    and buttons), the step after it and what the engine understood. Stateless: nothing is
    stored, sent or logged. 422 when the draft has errors or a message is too long."""
    return await call(desk.try_it, who, body.base, body.changes, body.language, body.channel, body.messages)


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



@router.get("/revisions/{number}/translations/{code}", responses={422: {}})
async def translations(number: int, code: str, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """Every string of language ``code`` beside the base language's in revision ``number``:
    section, key, kind (text, label, match), base, translation, status (missing,
    changed_since_translated, needs_review, translated, approved), review; and progress counts."""
    return await call(desk.translations, who, number, {}, code)


@router.post("/translations/{code}", responses={422: {}})
async def working_translations(code: str, body: Edit, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """As ``GET /revisions/{n}/translations/{code}``, for ``base`` with ``changes`` (unsaved edits)."""
    return await call(desk.translations, who, body.base, body.changes, code)


@router.post("/text-check", responses={422: {}})
async def text_check(body: TextCheckBody, who: SessionUser = Depends(current), desk: ContentDesk = Depends(studio)):
    """``text`` as it would be sent in ``language``: encoding (gsm7, ucs2), segments, units, the
    lock-screen preview and the words in it that could reveal the service, placeholder problems
    (unknown, missing against the base text) and carrier opt-out words; nothing is saved."""
    return await call(desk.text_check, who, body.language, body.text, body.key, body.base_text)
