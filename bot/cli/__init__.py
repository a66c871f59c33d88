"""The ``safeharbor`` command (also ``python -m bot``).

    safeharbor serve [--host H] [--port P] [--no-background] [--telegram-polling]
    safeharbor worker
    safeharbor telegram set-webhook
    safeharbor chat [--lang CODE] [--from ADDRESS] [--channel sms|telegram]
    safeharbor flows check [--strict] [--costs] [--max-age-months N]
    safeharbor flows graph [FLOW] [--lang CODE]
    safeharbor content export DIR | import [DIR] [--publish] | publish [N] | history | rollback N | diff A [B] | check [N]
    safeharbor keys generate | keys rotate
    safeharbor purge

Exit codes: 0 success, 1 invalid content (``where: what`` lines on stderr), 2 bad configuration
or usage.

One module per command group (``serving``: serve and worker; ``telegram``; ``chat``; ``flows``;
``content``: the content bundle's revisions; ``keys``; ``database``: purge and db; ``users``), each adding its commands to the parser
(``add_to``) and importing what a command runs only when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bot.cli import chat, content, database, flows, keys, serving, telegram, users
from bot.cli.chat import DEFAULT_CHAT_ADDRESS
from bot.cli.flows import DEFAULT_MAX_AGE_MONTHS, MAX_AGE_ENV
from bot.config import ConfigError, configure_logging
from bot.domain.problems import ContentInvalid
from bot.store.schema import SchemaBehind

__all__ = ["DEFAULT_CHAT_ADDRESS", "DEFAULT_MAX_AGE_MONTHS", "MAX_AGE_ENV", "main"]

# The command groups in the order ``safeharbor --help`` lists them.
GROUPS = (serving, telegram, chat, flows, content, keys, database, users)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        configure_logging()
    except ConfigError as exc:
        print(f"safeharbor: {exc}", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"safeharbor: {exc}", file=sys.stderr)
        return 2
    except SchemaBehind as exc:
        print(f"safeharbor: {exc}", file=sys.stderr)
        return 2
    except ContentInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`safeharbor chat ... | head`): stop quietly, as Unix tools do.
        # stdout is pointed at /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safeharbor", description="A survivor-facing messaging assistant.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_to(commands)
    return parser
