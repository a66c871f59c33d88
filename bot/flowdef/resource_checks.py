"""The resource directory against the flows that list it: entries no step shows, entries due
for a re-check. Warnings only (see ``resource_problems``)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from bot.domain.messages import Resource
from bot.domain.problems import Problem, where
from bot.flowdef.actions import SPECS
from bot.flowdef.model import Flow
from bot.flowdef.uses import all_actions, reachable_steps
from bot.i18n import Catalog

# A resource entry whose `checked` date is older than this is due for a re-check (a warning).
DEFAULT_RESOURCE_MAX_AGE_MONTHS = 12
RESOURCES_FILE = "flows/resources"


class ResourceDirectory(Protocol):
    """What the resource checks need of the directory (the store's ``Directory`` is one)."""

    resources: Sequence[Resource]

    def find(self, category: str, language: str, limit: int, audience: str = "") -> Sequence[Resource]: ...


def resource_problems(
    flows: Iterable[Flow],
    catalog: Catalog,
    directory: ResourceDirectory,
    today: dt.date,
    max_age_months: int = DEFAULT_RESOURCE_MAX_AGE_MONTHS,
) -> list[Problem]:
    """Warnings about the directory against the flows that list it, as of ``today``.

    Both kinds are warnings, not errors (``--strict`` fails on them, so CI cannot regress): an
    entry no step shows, or one due for a re-check, is help a person does not get or a claim to
    re-confirm, but it harms no one the way a broken flow would, and errors would stop a running
    deployment from loading its content (an old date must not take the service down).
    """
    return [*unlisted_resources(flows, catalog, directory), *stale_resources(directory, today, max_age_months)]


def listed_resource_ids(flows: Iterable[Flow], catalog: Catalog, directory: ResourceDirectory) -> set[str]:
    """Ids of the entries some reachable step's ``list_resources`` shows, in any language."""
    shown: set[str] = set()
    for flow in flows:
        reachable = reachable_steps(flow)
        for at, action in all_actions(flow):
            lists = SPECS[action.type].resources
            if lists is None or at.split(".")[1] not in reachable:
                continue
            query = lists(action)
            for code in catalog.locales:
                shown.update(r.id for r in directory.find(query.category, code, query.limit, query.audience))
    return shown


def unlisted_resources(flows: Iterable[Flow], catalog: Catalog, directory: ResourceDirectory) -> list[Problem]:
    """One warning per directory entry that no reachable step can ever show (its categories
    are listed nowhere, or always past the step's ``limit``, or its audience has no step)."""
    shown = listed_resource_ids(flows, catalog, directory)
    problems = []
    for resource in directory.resources:
        if resource.id in shown:
            continue
        needs = ", ".join(resource.categories)
        audience = f" for {', '.join(resource.audiences)}" if resource.audiences else ""
        problems.append(Problem(
            _resource_at(resource),
            f"no step ever shows this entry ({needs}{audience}): no reachable list_resources step lists it within its "
            "limit, in any language; add a step, raise a limit, or move the entry up in its file",
            "warning",
        ))
    return problems


def stale_resources(directory: ResourceDirectory, today: dt.date, max_age_months: int = DEFAULT_RESOURCE_MAX_AGE_MONTHS) -> list[Problem]:
    """One warning per entry whose ``checked`` date is older than ``max_age_months`` before
    ``today`` (or later than today). ``today`` is passed in so a test can fix the clock."""
    if max_age_months < 0:
        raise ValueError(f"max_age_months must be 0 or more, not {max_age_months}")
    oldest = months_before(today, max_age_months)
    problems = []
    for resource in directory.resources:
        checked = dt.date.fromisoformat(resource.checked)
        if checked < oldest:
            problems.append(Problem(
                _resource_at(resource),
                f"checked {resource.checked}, more than {max_age_months} month(s) before {today.isoformat()}: "
                f"re-check it against {resource.source} and update `checked`",
                "warning",
            ))
        elif checked > today:
            problems.append(Problem(_resource_at(resource), f"checked {resource.checked} is after today ({today.isoformat()})", "warning"))
    return problems


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter).

    >>> months_before(dt.date(2026, 3, 31), 1)
    datetime.date(2026, 2, 28)
    """
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _resource_at(resource: Resource) -> str:
    return where(RESOURCES_FILE, f"{resource.region}: {resource.id}")
