"""``safeharbor content export|import|publish|history|rollback|diff|check``: the content bundle in
the database, for deployments that keep their content in git, and for CI.

    safeharbor content export ./content                 # the published revision, in the flows/ + locales/ layout
    safeharbor content export ./es --language es        # one language's files, for a translator
    safeharbor content import ./content --publish -m "Spring update"
    safeharbor content history
    safeharbor content rollback 4                       # revision 4's files, published as a new revision

Exit codes: 0 done, 1 refused (``file: path: problem`` lines on stderr), 2 usage or configuration.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config import Settings

CLI_AUTHOR = "command line"


def add_to(commands) -> None:
    content = commands.add_parser("content", help="the content bundle in the database: export, import, publish, roll back")
    actions = content.add_subparsers(dest="content_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write a revision's files in the flows/ + locales/ layout")
    export.add_argument("to", type=Path, help="folder to write (its flows/ and locales/ then hold exactly that revision)")
    export.add_argument("--revision", type=int, metavar="N", help="default: the published revision")
    export.add_argument("--language", metavar="CODE", help="only this language's files (locales/CODE.yaml and its examples)")
    export.set_defaults(run=_export)
    take = actions.add_parser("import", help="a folder in the flows/ + locales/ layout as the newest revision")
    take.add_argument("source", type=Path, nargs="?", help="default: SAFEHARBOR_CONTENT_DIR")
    take.add_argument("--language", metavar="CODE", help="take only this language's files from the folder")
    take.add_argument("-m", "--message", default="Imported from files")
    take.add_argument("--author", default=CLI_AUTHOR)
    take.add_argument("--publish", action="store_true", help="publish it too (refused, exit 1, on any error)")
    take.set_defaults(run=_import)
    publish = actions.add_parser("publish", help="check a revision and publish it to every process")
    publish.add_argument("revision", type=int, nargs="?", help="default: the newest revision")
    publish.add_argument("--author", default=CLI_AUTHOR)
    publish.set_defaults(run=_publish)
    history = actions.add_parser("history", help="the revisions, newest first")
    history.add_argument("--limit", type=int, default=30)
    history.set_defaults(run=_history)
    rollback = actions.add_parser("rollback", help="publish an earlier revision's files as a new revision")
    rollback.add_argument("revision", type=int)
    rollback.add_argument("--author", default=CLI_AUTHOR)
    rollback.set_defaults(run=_rollback)
    diff = actions.add_parser("diff", help="what changed between two revisions, per step, text and resource")
    diff.add_argument("before", type=int)
    diff.add_argument("after", type=int, nargs="?", help="default: the newest revision")
    diff.set_defaults(run=_diff)
    check = actions.add_parser("check", help="check a revision as a publish would")
    check.add_argument("revision", type=int, nargs="?", help="default: the newest revision")
    check.set_defaults(run=_check)


def _studio(action):
    """Run ``action(studio)`` against the database of ``DATABASE_URL``; a missing revision or a
    bad bundle is exit 1 with the reason."""
    from bot.content import BundleError, NoSuchRevision, Refused
    from bot.service import open_studio

    studio = open_studio(Settings.from_env())
    try:
        return action(studio)
    except NoSuchRevision as exc:
        print(f"safeharbor: {exc}", file=sys.stderr)
        return 1
    except (Refused, BundleError) as exc:
        for problem in exc.problems:
            print(problem if problem.severity == "error" else f"{problem.where}: warning: {problem.what}", file=sys.stderr)
        print("safeharbor: refused; nothing was published", file=sys.stderr)
        return 1
    finally:
        studio.close()


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _number(studio, given: int | None, published: bool = False) -> int:
    from bot.content import NoSuchRevision

    number = given if given is not None else (studio.revisions.published_number() if published else studio.revisions.head_number())
    if number is None:
        raise NoSuchRevision("no revision yet: the service imports its content files as revision 1 when it first starts (or run `safeharbor content import`)")
    return number


def _export(args) -> int:
    def export(studio) -> int:
        number = _number(studio, args.revision, published=True)
        bundle = studio.revisions.get(number).bundle
        if args.language:
            bundle = _one_language(bundle, args.language)
            if not bundle.files:
                print(f"safeharbor: revision {number} has no files for language {args.language!r}", file=sys.stderr)
                return 1
            for name, text in bundle.files.items():  # only these files: the folder's others stay
                target = args.to / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                _progress(f"wrote {target}")
        else:
            bundle.write_to(args.to, _progress)
        print(f"exported revision {number} ({len(bundle.files)} files) to {args.to}")
        return 0

    return _studio(export)


def _import(args) -> int:
    from bot.content import Bundle

    source = args.source or Settings.content_dir_from_env()

    def take(studio) -> int:
        bundle = Bundle.from_directory(source)
        if args.language:
            head = studio.revisions.head_number()
            mine = _one_language(bundle, args.language)
            if not mine.files:
                print(f"safeharbor: {source} has no files for language {args.language!r}", file=sys.stderr)
                return 1
            bundle = (studio.revisions.get(head).bundle if head else Bundle()).replacing(dict(mine.files))
        _progress(f"read {len(bundle.files)} files from {source}; checking")
        problems = studio.check(bundle)
        revision = studio.import_bundle(bundle, args.author, args.message, publish=False)
        _progress(f"saved as revision {revision.number} ({revision.status})")
        if args.publish:
            revision = studio.publish(revision.number, args.author) if revision.status != "published" else revision
            print(f"revision {revision.number} published")
        else:
            errors = [p for p in problems if p.severity == "error"]
            for problem in errors:
                print(problem, file=sys.stderr)
            print(f"revision {revision.number} saved as a draft ({len(errors)} error(s)); `safeharbor content publish {revision.number}` publishes it")
        return 0

    return _studio(take)


def _publish(args) -> int:
    def publish(studio) -> int:
        number = _number(studio, args.revision)
        _progress(f"checking revision {number}")
        revision = studio.publish(number, args.author)
        print(f"revision {revision.number} published; every process serves it within {studio.reach_seconds:g} s")
        return 0

    return _studio(publish)


def _history(args) -> int:
    def history(studio) -> int:
        revisions = studio.revisions.history(args.limit)
        if not revisions:
            print("no revision yet")
        for r in revisions:
            changed = ", ".join(f"{k}: {' '.join(v)}" for k, v in r.tags.items() if v and k != "files") or "-"
            print(f"{r.number:>5}  {r.status:<9}  {r.created_at:%Y-%m-%d %H:%M}  {r.author:<24}  {r.message}  [{changed}]")
        return 0

    return _studio(history)


def _rollback(args) -> int:
    def rollback(studio) -> int:
        revision = studio.rollback(args.revision, args.author)
        print(f"revision {args.revision}'s content published as revision {revision.number}")
        return 0

    return _studio(rollback)


def _diff(args) -> int:
    def diff(studio) -> int:
        after = _number(studio, args.after)
        for change in studio.diff(args.before, after):
            where = f"{change.kind} {change.item}" + (f" ({change.language})" if change.language else "")
            print(f"{change.change:<8} {where}  [{change.file}]")
            for label, text in (("before", change.before), ("after", change.after)):
                if text:
                    print("\n".join(f"    {label}: {line}" for line in text.splitlines()))
        return 0

    return _studio(diff)


def _check(args) -> int:
    def check(studio) -> int:
        number = _number(studio, args.revision)
        problems = studio.check(studio.revisions.get(number).bundle)
        for problem in problems:
            print(problem if problem.severity == "error" else f"{problem.where}: warning: {problem.what}", file=sys.stderr)
        failed = sum(p.severity == "error" for p in problems)
        print(f"revision {number}: {failed} error(s), {len(problems) - failed} warning(s)")
        return 1 if failed else 0

    return _studio(check)


def _one_language(bundle, code: str):
    """The files of one language: ``locales/CODE.yaml`` and ``locales/understanding/CODE.yaml``."""
    from bot.content import Bundle

    names = (f"locales/{code}.yaml", f"locales/understanding/{code}.yaml")
    return Bundle({n: t for n, t in bundle.files.items() if n in names})
