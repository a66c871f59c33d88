"""The JSON bodies of the console's API (their names are the schemas at ``/openapi.json``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LoginBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    otp: str = Field(max_length=12)


class CsrfToken(BaseModel):
    csrf_token: str


class Me(BaseModel):
    email: str
    role: str
    languages: list[str] = Field(default_factory=list, description="a translator's languages")
    csrf_token: str


class Conversation(BaseModel):
    id: str
    label: str
    language: str
    channel: str
    status: str
    waiting_since: str
    urgent: bool
    holder: str | None = None
    claimed_at: str | None = None
    ended_at: str | None = None


class Canned(BaseModel):
    id: str
    title: str
    text: str


class ConversationDetail(Conversation):
    canned: list[Canned]


class Message(BaseModel):
    id: int
    sender: Literal["person", "bot", "advocate", "note", "system"]
    author: str | None = None
    text: str
    at: str


class TextBody(BaseModel):
    text: str = Field(min_length=1, max_length=1600)


class TransferBody(BaseModel):
    to: str | None = Field(default=None, description="an advocate's email; absent: back to the waiting queue")


class AuditEntry(BaseModel):
    at: str
    actor: str
    action: str
    label: str | None = None


class Advocate(BaseModel):
    email: str
    role: str


# -- the console's people (bot.web.api.users) ----------------------------------------------------------

Role = Literal["advocate", "admin", "translator"]


class Account(BaseModel):
    """An account as admins see it: never its password hash or authenticator secret."""

    id: int
    email: str
    role: Role
    languages: list[str] = Field(description="a translator's languages (an admin edits every one, an advocate none)")
    disabled: bool


class NewAccountBody(BaseModel):
    email: str = Field(max_length=254)
    role: Role
    languages: list[str] = Field(default_factory=list, max_length=20, description="a translator's, e.g. [\"es\", \"fr\"]")


class RoleBody(BaseModel):
    role: Role
    languages: list[str] = Field(default_factory=list, max_length=20)


class NewSecret(BaseModel):
    """Answered once: pass it on safely (in person, or a channel other than the password's)."""

    user: Account
    secret: str = Field(description="the authenticator app's secret (base32)")
    otpauth_uri: str = Field(description="the same as an otpauth:// URI, for a QR code")


class NewAccount(NewSecret):
    password: str = Field(description="the generated password, answered this once")
