"""Content bundles: what the service says (flows, locales, the resource directory, the
understanding examples) as revisions in the database, checked, published, rolled back, compared,
and exported to or imported from the ``flows/`` + ``locales/`` layout; and the live revision
each process serves.

- ``bundle``: ``Bundle``, a revision's files (path -> text), read by the content readers as a folder;
- ``loaded``: ``Content`` and ``read_content`` (a folder or bundle, loaded and inspected);
- ``changes``: what changed between two bundles, per step, text, language and resource;
- ``revisions``: the revisions table (save with conflict checks, publish, history);
- ``studio``: check, save, publish, roll back, import, as the console and the CLI call them;
- ``live`` and ``watch``: the revision a process serves, switched between turns.
"""

from bot.content.bundle import Bundle, BundleError
from bot.content.changes import Change, compare, tags
from bot.content.live import LiveContent
from bot.content.loaded import DEFAULT_FLOW, FALLBACK_TEXT, Content, load_content, read_content
from bot.content.revisions import Conflict, NoSuchRevision, Revision, Revisions
from bot.content.studio import Refused, Studio
from bot.content.watch import ContentWatcher

__all__ = [
    "DEFAULT_FLOW", "FALLBACK_TEXT", "Bundle", "BundleError", "Change", "Conflict", "Content", "ContentWatcher", "LiveContent",
    "NoSuchRevision", "Refused", "Revision", "Revisions", "Studio", "compare", "load_content", "read_content", "tags",
]
