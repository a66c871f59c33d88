"""Pseudonymous labels for the advocates' queue: "Heron 4821".

A label names a handoff in the console and the audit log so that people can talk about it
("I'll take Heron 4821"). It is drawn at random when the handoff opens and is linked to nothing:
not the number, not the pseudonym, not the conversation id.
"""

from __future__ import annotations

import secrets

BIRDS = (
    "Albatross", "Avocet", "Bittern", "Bluebird", "Bunting", "Cardinal", "Crane", "Curlew", "Dipper",
    "Dove", "Dunlin", "Egret", "Eider", "Falcon", "Finch", "Flicker", "Gannet", "Godwit", "Grebe",
    "Heron", "Ibis", "Jay", "Junco", "Kestrel", "Killdeer", "Kingfisher", "Kinglet", "Kite", "Lark",
    "Linnet", "Loon", "Magpie", "Martin", "Merlin", "Nighthawk", "Nuthatch", "Oriole", "Osprey",
    "Owl", "Pelican", "Petrel", "Phoebe", "Pipit", "Plover", "Puffin", "Quail", "Rail", "Raven",
    "Redstart", "Robin", "Sanderling", "Sandpiper", "Shearwater", "Siskin", "Sparrow", "Starling",
    "Stilt", "Swallow", "Swift", "Tanager", "Tern", "Thrasher", "Thrush", "Towhee", "Vireo",
    "Warbler", "Waxwing", "Wigeon", "Willet", "Wren",
)


def new_label() -> str:
    """A random bird and four digits (about 700,000 labels): ``new_label()`` -> ``"Heron 4821"``."""
    return f"{secrets.choice(BIRDS)} {secrets.randbelow(9000) + 1000}"
