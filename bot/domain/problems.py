"""A problem found in data people edit (flows, locales, resources), reported as ``file: path: what``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """``where`` is ``file: path`` (``flows/main.yaml: steps.menu.choices[2].goto``)."""

    where: str
    what: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def where(file: str, path: str | None = None) -> str:
    return f"{file}: {path}" if path else file


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


class ContentInvalid(Exception):
    """Raised by loaders when data cannot be used; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# The needs a resource may serve; flows and the directory both use these ids.
CATEGORIES = ("emergency", "legal", "shelter", "medical", "counseling", "immigration", "work_education")
# Who a resource entry can be only for; a step lists such entries only by naming the audience.
AUDIENCES = ("youth",)
