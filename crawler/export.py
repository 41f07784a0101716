"""Exporting the stored corpus in the formats of the field: ``policytrail export``.

Formats
    ``seed-markdown``  one file per version in the Princeton-Leuven corpus format (a header line
                       naming the site, the archive date and the raw Wayback capture, ``# title``,
                       the markdown text), as ``diffing.normalize.seed_markdown`` writes it.
    ``jsonl``          ``versions.jsonl`` (one version a line, with its text) and
                       ``changes.jsonl`` (one change a line, with flags and clauses).
    ``csv``            ``versions.csv`` (with the text) and ``changes.csv``.

Layouts of ``seed-markdown`` (a policy's name is its site, ``www.`` dropped; when several tracked
policies share a site, the second and later add ``_`` and their path: ``example.com_terms``)
    ``flat``       ``<name>_<YYYYMMDDhhmmss>.md``: every version in one directory, named by the
                   Wayback timestamp of its first capture (names sort by time).
    ``princeton``  ``<a>/<ab>/<abc>/<name>.md`` holds the newest version, where the Princeton
                   corpus keeps a site's current file; every version (the newest included) is
                   in ``<a>/<ab>/<abc>/<name>/<YYYYMMDDhhmmss>.md`` beside it (the Princeton
                   corpus keeps those in its git history instead).

The corpus is read and written a batch of policies at a time (``crawler.reporting.BATCH``):
each file gets its rows as the batches pass, so memory stays that of one batch.
"""

from __future__ import annotations

import csv
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.outfiles import replacing
from crawler.reporting import (
    CHANGE_COLUMNS,
    Corpus,
    PolicyData,
    change_record,
    csv_cells,
    json_compact,
    load_corpus,
)
from crawler.reporting import replay_url as _replay_url
from diffing.normalize import seed_markdown
from diffing.records import Document, parse_timestamp
from storage import Store
from storage import reportdata as rd

FORMATS = ("seed-markdown", "jsonl", "csv")
LAYOUTS = ("flat", "princeton")


class ExportError(ValueError):
    """Bad export options (unknown format or layout, a layout that does not apply)."""


@dataclass(slots=True)
class ExportResult:
    files: list[Path] = field(default_factory=list)
    versions: int = 0
    changes: int = 0


def policy_names(policies: list[rd.PolicyInfo]) -> dict[int, str]:
    """A file-name stem per policy: its site, or site_path when the site is tracked twice.
    Decided over all tracked policies, so a one-policy export names files as a full one does."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for p in sorted(policies, key=lambda p: p.id):
        site = re.sub(r"[^a-z0-9.-]+", "-", p.site.lower()).strip(".-") or "policy"
        name = site
        if name in taken:
            path = urlsplit(p.url).path
            tail = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:60] or str(p.id)
            name = f"{site}_{tail}"
            if name in taken:
                name = f"{site}_{p.id}"
        taken.add(name)
        names[p.id] = name
    return names


def princeton_dir(name: str) -> Path:
    """``amahi.org`` -> ``a/am/ama`` (the Princeton-Leuven corpus' layout)."""
    return Path(name[:1], name[:2], name[:3])


def seed_wayback_url(end: rd.CaptureEnd) -> str:
    """The raw capture address, with the original URL's ``://`` written ``%3A//`` as the
    Princeton corpus writes it."""
    replay = _replay_url(end)
    prefix = f"{end.timestamp}id_/"
    head, sep, original = replay.partition(prefix)
    return f"{head}{sep}{original.replace('://', '%3A//', 1)}" if sep else replay


def _seed_files(
    corpus: Corpus, p: PolicyData, name: str, out: Path, layout: str
) -> list[tuple[Path, str]]:
    files = []
    for v in p.versions:
        text = corpus.store.read_text(v.text_id)
        doc = Document(
            text=text, title=v.title, language="", normaliser_version="", text_hash=v.text_hash
        )
        body = seed_markdown(
            doc,
            site=p.info.site,
            archived_on=parse_timestamp(v.first.timestamp).date(),
            wayback_url=seed_wayback_url(v.first),
        )
        if layout == "flat":
            files.append((out / f"{name}_{v.first.timestamp}.md", body))
        else:
            base = out / princeton_dir(name)
            files.append((base / name / f"{v.first.timestamp}.md", body))
            if v is p.versions[-1]:
                files.append((base / f"{name}.md", body))
    return files


EXPORT_VERSION_COLUMNS = (
    "policy_id",
    "policy_url",
    "site",
    "name",
    "seq",
    "first_seen",
    "last_seen",
    "first_timestamp",
    "last_timestamp",
    "first_capture",
    "chars",
    "words",
    "stated_date",
    "cites_gdpr",
    "cites_ccpa",
    "title",
    "text_hash",
    "text",
)  # the keys of _version_row's rows: the CSV header, even with no rows


def _version_row(corpus: Corpus, p: PolicyData, name: str, v: rd.VersionInfo) -> dict[str, Any]:
    f = corpus.facts(v)
    return {
        "policy_id": p.info.id,
        "policy_url": p.info.url,
        "site": p.info.site,
        "name": name,
        "seq": v.seq,
        "first_seen": v.first_seen.isoformat(),
        "last_seen": v.last_seen.isoformat(),
        "first_timestamp": v.first.timestamp,
        "last_timestamp": v.last.timestamp,
        "first_capture": _replay_url(v.first),
        "chars": v.chars,
        "words": f.words,
        "stated_date": v.stated_date.isoformat() if v.stated_date else None,
        "cites_gdpr": f.gdpr,
        "cites_ccpa": f.ccpa,
        "title": v.title,
        "text_hash": v.text_hash,
        "text": corpus.store.read_text(v.text_id),
    }


def export(
    store: Store,
    out: Path,
    fmt: str,
    *,
    layout: str = "flat",
    policy_id: int | None = None,
    batch: int | None = None,
) -> ExportResult:
    """Write ``fmt`` files of the stored corpus (or of one policy) in ``out``; ``batch``:
    policies read at a time (``crawler.reporting.BATCH`` by default)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (use {', '.join(FORMATS)})")
    if layout not in LAYOUTS:
        raise ExportError(f"unknown layout {layout!r} (use {', '.join(LAYOUTS)})")
    if layout != "flat" and fmt != "seed-markdown":
        raise ExportError(f"--layout {layout} applies to --format seed-markdown only")
    corpus = load_corpus(store, policy_id, with_changes=fmt != "seed-markdown", batch=batch)
    names = policy_names(rd.policies(store))
    result = ExportResult()
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "seed-markdown":
        for p in corpus:
            for path, body in _seed_files(corpus, p, names[p.info.id], out, layout):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(body, encoding="utf-8")
                result.files.append(path)
            result.versions += len(p.versions)
        return result
    ext = "jsonl" if fmt == "jsonl" else "csv"
    paths = [out / f"versions.{ext}", out / f"changes.{ext}"]
    newline = "" if fmt == "csv" else None  # as the csv module and json lines want
    with ExitStack() as stack:
        versions_fh, changes_fh = (
            stack.enter_context(replacing(path, newline=newline)) for path in paths
        )
        if fmt == "jsonl":

            def write_version(row: dict[str, Any]) -> None:
                versions_fh.write(json_compact(row) + "\n")

            def write_change(row: dict[str, Any]) -> None:
                changes_fh.write(json_compact(row) + "\n")

        else:
            versions_csv = csv.writer(versions_fh, lineterminator="\n")
            changes_csv = csv.writer(changes_fh, lineterminator="\n")
            versions_csv.writerow(EXPORT_VERSION_COLUMNS)
            changes_csv.writerow(CHANGE_COLUMNS)

            def write_version(row: dict[str, Any]) -> None:
                versions_csv.writerow(csv_cells(row, EXPORT_VERSION_COLUMNS))

            def write_change(row: dict[str, Any]) -> None:
                changes_csv.writerow(csv_cells(row, CHANGE_COLUMNS))

        for p in corpus:
            name = names[p.info.id]
            for v in p.versions:
                write_version(_version_row(corpus, p, name, v))
            for c in p.changes:
                write_change(change_record(corpus, p, c))
            result.versions += len(p.versions)
            result.changes += len(p.changes)
    result.files.extend(paths)
    return result
