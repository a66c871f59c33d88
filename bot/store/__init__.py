"""Storage: encrypted sessions in SQL, keyed pseudonyms, and the resource directory."""

from bot.store.crypto import DecryptError, KeyRing, Pseudonyms
from bot.store.database import open_database
from bot.store.memory import MemorySessionStore
from bot.store.resources import Directory, load_directory, read_directory
from bot.store.sessions import HeldConversation, SessionStore

__all__ = [
    "DecryptError",
    "Directory",
    "HeldConversation",
    "KeyRing",
    "MemorySessionStore",
    "Pseudonyms",
    "SessionStore",
    "load_directory",
    "open_database",
    "read_directory",
]
