"""The package keeps the shape docs/ARCHITECTURE.md draws: every module is in its layout
table, none is longer than ~600 lines, and SQL is written in ``store/`` only."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "leadsync"
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
MAX_LINES = 600

# Modules the table names by their folder: the stand-in HubSpot's endpoint modules and the
# Alembic migrations (one per schema change).
BY_FOLDER = ("destinations/hubspot/fake/", "store/migrations/")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "egg-info" not in str(p))


def _layout_table() -> str:
    start = ARCHITECTURE.index("## Layout")
    end = ARCHITECTURE.index("\n## ", start + 1)
    return ARCHITECTURE[start:end]


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_every_module_and_folder_is_in_the_layout_table() -> None:
    named = set(re.findall(r"`([A-Za-z_/]+?)(?:\.py)?`", _layout_table()))
    folders = {n for n in named if n.endswith("/")}
    missing = []
    for path in _modules():
        rel = _relative(path)
        if rel.startswith(BY_FOLDER) or path.parent == PACKAGE and path.name == "__init__.py":
            continue
        if path.name == "__init__.py":
            folder = _relative(path.parent) + "/"
            # Named as itself (``cycle/``) or by a path through it (``destinations/hubspot/``).
            if not any(folder.endswith(f) or f.startswith(folder) for f in folders):
                missing.append(folder)
        elif path.stem not in named and rel.removesuffix(".py") not in named:
            missing.append(rel)
    assert not missing, f"docs/ARCHITECTURE.md's layout table does not name: {missing}"


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        _relative(p): n
        for p in _modules()
        if not _relative(p).startswith("store/migrations/")
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


# A statement built or sent: SQLAlchemy's constructs, or text handed to a connection.
SQL = re.compile(
    r"\bsa\.(select|insert|update|delete|text|union_all|exists)\(|"
    r"\.(execute|exec_driver_sql|executemany)\(|"
    r"^from sqlalchemy(\.sql)? import .*\b(select|insert|update|delete|text)\b"
)


def test_sql_is_written_in_store_only() -> None:
    found = []
    for path in _modules():
        if _relative(path).startswith("store/"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SQL.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{_relative(path)}:{number}: {line.strip()}")
    assert not found, "SQL outside store/:\n" + "\n".join(found)


def test_every_transaction_that_writes_begins_writing() -> None:
    """A transaction is begun by ``begin_writing`` (store/database.py), never by a bare
    ``begin()``: on SQLite a deferred BEGIN that reads first fails its write at once when
    another writer committed meanwhile (tests/test_sqlite_write_lock.py). Reads use
    ``connect()``."""
    bare = re.compile(r"\.begin\(\)")
    found = [
        f"{_relative(path)}:{number}: {line.strip()}"
        for path in _modules()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
        and "execution_options" not in line
        and not line.lstrip().startswith(("#", '"""', "``"))
    ]
    assert not found, "transactions begun without begin_writing:\n" + "\n".join(found)


def test_every_file_the_package_reads_is_in_its_package_data() -> None:
    """A built package holds the files its ``package-data`` globs name: a template, a
    stylesheet or a script left out works from a checkout and breaks once installed."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["leadsync"]
    package = ROOT / "src" / "leadsync"
    left_out = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*"))
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and "__pycache__" not in path.parts
        and not any(fnmatch.fnmatch(str(path.relative_to(package)), g) for g in globs)
    ]
    assert left_out == []
