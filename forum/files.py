"""Files and folders that hold secrets or data: readable by the account forum runs as, only."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

#: Mode of files holding keys, databases, archives or index data.
PRIVATE_FILE = 0o600
#: Mode of folders holding such files.
PRIVATE_DIR = 0o700
#: Process umask for commands and servers: whatever they create is private.
PRIVATE_UMASK = 0o077


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make the folder itself 0700 when it is ours.

    Only the last folder is tightened: parents such as /srv or a home folder are not forum's.
    A folder owned by another account is left alone (chmod would fail, and it is theirs).
    """
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    # A configured path may be a link to the real folder: tighten the folder it names.
    tighten(path.resolve(), PRIVATE_DIR)
    return path


def tighten(path: Path, mode: int) -> None:
    """Remove group and other permissions from ``path`` if it exists and this account owns it."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        return
    if stat.S_IMODE(info.st_mode) & ~mode:
        path.chmod(stat.S_IMODE(info.st_mode) & mode)


def create_private_file(path: Path) -> BinaryIO:
    """Open ``path`` for writing as a new 0600 file, replacing any file (never a link) there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, PRIVATE_FILE)
    except FileExistsError:
        # A leftover from an interrupted run: remove it (a link is removed, not followed).
        path.unlink()
        fd = os.open(path, flags, PRIVATE_FILE)
    # The umask can only remove bits, but a umask of 0 with a group ACL could add some back.
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, "wb")


def private_sqlite_file(database: str | None) -> None:
    """Create an SQLite database file as 0600 before SQLite does, and tighten existing ones.

    SQLite gives its -wal, -shm and -journal files the mode of the database file, so a private
    database file keeps them private too; existing ones are tightened as well.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        # An empty file is a valid, empty SQLite database.
        os.close(fd)
    for suffix in ("", "-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix), PRIVATE_FILE)
