"""A content bundle: every file of a deployment's content (flows, locales, the resource directory,
the understanding examples) as text, keyed by its path in the ``flows/`` + ``locales/`` layout.

    bundle = Bundle.from_directory(Path("."))       # flows/main.yaml, locales/es.yaml, ...
    bundle.files["locales/es.yaml"]                  # the file's text, exactly as written
    read_content(bundle.root(), regions)             # the readers take it as they take a folder
    bundle.write_to(Path("/tmp/export"))             # the same layout back, for git or a translator

A bundle is immutable and compared by its files; the database keeps one per revision
(``bot.content.revisions``). Its paths are checked on the way in, so an import can never write
outside the two folders, nor carry anything but YAML.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bot.datafile import MAX_FILE_BYTES
from bot.domain.problems import Problem

# flows/<name>.yaml, flows/resources/<region>.yaml, locales/<code>.yaml, locales/understanding/<code>.yaml
PATH = re.compile(r"(flows|flows/resources|locales|locales/understanding)/[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\.yaml")
FOLDERS = ("flows", "locales")
MAX_FILES = 400  # more files than this in one bundle is a mistake, not content


class BundleError(ValueError):
    """A bundle that cannot be taken in at all (a path outside the layout, a file too large);
    ``problems`` says which, as ``file: problem``."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Bundle:
    """``files``: path -> text, e.g. ``{"flows/main.yaml": "flow: main\\n...", ...}``."""

    files: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        problems = [Problem(path, problem) for path, text in self.files.items() if (problem := _path_problem(path, text))]
        if len(self.files) > MAX_FILES:
            problems.append(Problem("(bundle)", f"{len(self.files)} files; at most {MAX_FILES}"))
        if problems:
            raise BundleError(problems)
        object.__setattr__(self, "files", dict(sorted(self.files.items())))

    @classmethod
    def from_directory(cls, root: Path) -> Bundle:
        """Every ``*.yaml`` under ``root/flows`` and ``root/locales`` (one level of subfolders,
        as the layout has). Raises ``BundleError`` for a file that cannot be read as UTF-8."""
        files, problems = {}, []
        for folder in FOLDERS:
            for path in sorted((root / folder).rglob("*.yaml")):
                name = path.relative_to(root).as_posix()
                try:
                    files[name] = path.read_bytes().decode("utf-8")
                except UnicodeDecodeError as exc:
                    problems.append(Problem(name, f"not UTF-8 (byte {exc.start})"))
                except OSError as exc:
                    problems.append(Problem(name, f"cannot read: {exc.strerror or exc}"))
        if problems:
            raise BundleError(problems)
        return cls(files)

    def write_to(self, root: Path, progress: Callable[[str], None] | None = None) -> list[Path]:
        """Write every file under ``root`` in the layout; files of these folders that the bundle
        does not hold are removed, so ``root`` then holds exactly this bundle. Returns the paths."""
        written = []
        for i, (name, text) in enumerate(self.files.items(), 1):
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
            if progress:
                progress(f"[{i}/{len(self.files)}] {name}")
        for folder in FOLDERS:
            for stale in sorted((root / folder).rglob("*.yaml")):
                if stale.relative_to(root).as_posix() not in self.files:
                    stale.unlink()
        return written

    def root(self) -> BundlePath:
        """The bundle as a read-only folder the content readers take in place of a ``Path``."""
        return BundlePath(self, PurePosixPath())

    def digest(self) -> str:
        """SHA-256 over paths and texts: equal digests, equal bundles."""
        h = hashlib.sha256()
        for name, text in self.files.items():
            h.update(name.encode() + b"\0" + text.encode("utf-8") + b"\0")
        return h.hexdigest()

    def replacing(self, changed: Mapping[str, str | None]) -> Bundle:
        """This bundle with ``changed`` files written (a ``None`` text removes the file)."""
        files = dict(self.files)
        for name, text in changed.items():
            if text is None:
                files.pop(name, None)
            else:
                files[name] = text
        return Bundle(files)

    def changed_files(self, other: Bundle) -> dict[str, str | None]:
        """What turns this bundle into ``other``: path -> its text there (``None``: removed)."""
        names = set(self.files) | set(other.files)
        return {n: other.files.get(n) for n in sorted(names) if self.files.get(n) != other.files.get(n)}


def _path_problem(path: str, text) -> str | None:
    if not isinstance(path, str) or not PATH.fullmatch(path):
        return "not a content file: give flows/NAME.yaml, flows/resources/NAME.yaml, locales/CODE.yaml or locales/understanding/CODE.yaml"
    if not isinstance(text, str):
        return "the file's text must be a string"
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return f"file is larger than {MAX_FILE_BYTES} bytes"
    return None


class BundlePath:
    """A folder of a ``Bundle``, read like a ``pathlib.Path`` by the content readers
    (``bot.datafile.read_yaml``, ``read_flows``, ``read_catalog``, ``read_directory``): ``/``,
    ``glob("*.yaml")``, ``is_dir``, ``is_file``, ``read_bytes``, ``name`` and ``stem``, and
    nothing that writes."""

    def __init__(self, bundle: Bundle, at: PurePosixPath):
        self._bundle = bundle
        self._at = at

    @property
    def bundle(self) -> Bundle:
        """The bundle this folder is part of."""
        return self._bundle

    def __truediv__(self, name: str) -> BundlePath:
        return BundlePath(self._bundle, self._at / name)

    def __str__(self) -> str:
        return str(self._at)

    def __lt__(self, other: BundlePath) -> bool:
        return str(self._at) < str(other._at)

    @property
    def name(self) -> str:
        return self._at.name

    @property
    def stem(self) -> str:
        return self._at.stem

    def _key(self) -> str:
        return self._at.as_posix()

    def is_file(self) -> bool:
        return self._key() in self._bundle.files

    def is_dir(self) -> bool:
        prefix = self._key() + "/"
        return any(name.startswith(prefix) for name in self._bundle.files)

    def glob(self, pattern: str) -> Iterator[BundlePath]:
        """The files directly in this folder whose name matches ``pattern`` (``*.yaml``)."""
        prefix = self._key() + "/"
        for name in self._bundle.files:
            rest = name[len(prefix):]
            if name.startswith(prefix) and "/" not in rest and PurePosixPath(rest).match(pattern):
                yield BundlePath(self._bundle, PurePosixPath(name))

    def read_bytes(self) -> bytes:
        try:
            return self._bundle.files[self._key()].encode("utf-8")
        except KeyError:
            raise FileNotFoundError(2, "No such file in the content bundle", self._key()) from None
