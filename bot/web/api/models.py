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
