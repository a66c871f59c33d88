"""``safeharbor flows check`` (flows, locales and resources, and their SMS costs) and
``safeharbor flows graph`` (a flow as Mermaid text)."""

from __future__ import annotations

import os
import sys

from bot.config import ConfigError, Settings
from bot.domain.problems import errors

# `flows check`: a resource entry checked longer ago than this is due for a re-check (a warning).
MAX_AGE_ENV = "SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS"
DEFAULT_MAX_AGE_MONTHS = 12  # the same as bot.flowdef.DEFAULT_RESOURCE_MAX_AGE_MONTHS (not imported here: cli loads lazily)


def add_to(commands) -> None:
    flows = commands.add_parser("flows", help="check or draw the flows").add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    check = flows.add_parser("check", help="validate flows, locales and resources")
    check.add_argument("--strict", action="store_true", help="warnings fail too")
    check.add_argument("--costs", action="store_true", help="list the SMS cost of every step in every language")
    check.add_argument(
        "--max-age-months", type=int, metavar="N", default=None,
        help=f"warn about resource entries checked more than N months ago (default ${MAX_AGE_ENV} or "
        f"{DEFAULT_MAX_AGE_MONTHS})",
    )
    check.set_defaults(run=_flows_check)
    graph = flows.add_parser("graph", help="print a flow as Mermaid text")
    graph.add_argument("flow", nargs="?", default="main")
    graph.add_argument("--lang", metavar="CODE", help="language of the edge labels")
    graph.set_defaults(run=_flows_graph)


def _max_age_months(given: int | None) -> int:
    """``--max-age-months``, else ``SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS``, else 12; 0 or more."""
    if given is None:
        text = os.environ.get(MAX_AGE_ENV, "").strip()
        if not text:
            return DEFAULT_MAX_AGE_MONTHS
        try:
            given = int(text)
        except ValueError:
            raise ConfigError(f"{MAX_AGE_ENV}={text!r}: give a whole number of months, e.g. 12") from None
        source = MAX_AGE_ENV
    else:
        source = "--max-age-months"
    if given < 0:
        raise ConfigError(f"{source}={given}: give 0 months or more")
    return given


def _flows_check(args) -> int:
    import datetime as dt

    from bot.flowdef import resource_problems, step_costs
    from bot.service import read_content

    max_age = _max_age_months(args.max_age_months)
    today = dt.date.today()  # the one clock read: the checks below take it as an argument
    root, regions = Settings.content_dir_from_env(), Settings.regions_from_env()
    content, problems = read_content(root, regions)
    problems = problems + _resource_checks(root, regions, today, max_age, resource_problems)
    for problem in problems:  # `where: what`; warnings say so after the location
        print(problem if problem.severity == "error" else f"{problem.where}: warning: {problem.what}", file=sys.stderr)
    if content is None or errors(problems):
        print(f"flows check: {len(errors(problems))} error(s), {len(problems) - len(errors(problems))} warning(s)", file=sys.stderr)
        return 1
    rows = [row for name, flow in content.flows.items() for row in step_costs(flow, content.catalog, content.engines[name].preview)]
    if args.costs:
        print(f"{'step':<24} {'lang':<5} {'encoding':<8} {'segments':>8} {'units':>6}")
        for row in rows:
            print(f"{row.step:<24} {row.language:<5} {row.encoding:<8} {row.segments:>8} {row.units:>6}")
    warnings = len(problems)
    worst = max(row.segments for row in rows)
    encodings = sorted({f"{row.language}:{row.encoding}" for row in rows})
    print(
        f"flows check: {len(content.flows)} flow(s), {sum(len(f.steps) for f in content.flows.values())} steps, "
        f"{len(content.catalog.languages)} languages ({', '.join(content.catalog.languages)}), "
        f"{len(content.directory.resources)} resources; SMS: {', '.join(encodings)}, at most {worst} segment(s); "
        f"0 errors, {warnings} warning(s)"
    )
    return 1 if args.strict and warnings else 0


def _resource_checks(root, regions, today, max_age: int, resource_problems) -> list:
    """The directory against the flows (entries no step shows, entries due for a re-check).

    Read on their own, so these warnings are reported even when another file has errors; when
    the flows, locales or directory cannot be read, ``read_content`` has reported why."""
    from bot.flowdef import read_flows
    from bot.i18n import read_catalog
    from bot.store import read_directory

    catalog, found = read_catalog(root / "locales")
    flows, more = read_flows(root / "flows")
    directory, rest = read_directory(root / "flows" / "resources", regions=regions)
    if catalog is None or errors([*found, *more, *rest]):
        return []
    return resource_problems(flows.values(), catalog, directory, today, max_age)


def _flows_graph(args) -> int:
    from bot.flowdef import to_mermaid
    from bot.service import load_content

    content = load_content(Settings.content_dir_from_env())
    flow = content.flows.get(args.flow)
    if flow is None:
        print(f"safeharbor: no flow {args.flow!r} (there is {', '.join(sorted(content.flows))})", file=sys.stderr)
        return 2
    sys.stdout.write(to_mermaid(flow, content.catalog, content.catalog.resolve(args.lang)))
    return 0
