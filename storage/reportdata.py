"""Read-only queries for reports, exports and feeds: a few grouped queries over the whole corpus
instead of several queries per policy, so a report on a thousand policies stays fast.

Everything here only reads. Changes and their clauses come from ``Store.changes_of()`` (the
repository owns how clauses are stored); these queries cover what it does not offer in bulk:
policies, versions with both capture ends, and capture-quality counts. Each takes one policy
(``policy_id``), a batch of policies (``ids``: what the report reads at a time, so its memory
stays that of one batch) or, with neither, every policy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from storage.models import Capture, Policy, PolicyUrl, Version
from storage.repository import Store


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    id: int
    url: str
    site: str
    key: str  # the archive urlkey: a policy's stable identity


@dataclass(frozen=True, slots=True)
class CaptureEnd:
    """One capture at an end of a version's span: enough to address it in its archive."""

    timestamp: str
    url: str
    archive: str  # the archive base it was fetched from ("" if unknown)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    id: int
    policy_id: int
    seq: int
    text_id: int
    text_hash: str
    chars: int
    title: str
    first_seen: datetime
    last_seen: datetime
    stated_date: date | None
    first: CaptureEnd
    last: CaptureEnd


@dataclass(slots=True)
class CaptureQuality:
    """How a policy's captures turned out, for the index's "capture problems" column."""

    captures: int = 0
    ok: int = 0  # captures whose text became (part of) a version
    # archived-error, redirect, failed, unfetchable...
    states: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)  # non-ok verdicts: not-a-policy...
    leaves_policy: int = 0  # archived redirects that end somewhere that is not the policy
    # (verdicts count only captures read as the policy: fetched or duplicate)

    def problems(self) -> dict[str, int]:
        """Named problem -> count, only the non-zero ones; each capture counts once."""
        counts = {
            "archived error": self.states["archived-error"],
            "redirect": max(self.states["redirect"] - self.leaves_policy, 0),
            "redirect leaving the policy": self.leaves_policy,
            "fetch failed": self.states["failed"],
            # too large or corrupt compression: kept, but not fetched again by later runs
            "unfetchable": self.states["unfetchable"],
        }
        out = {label: n for label, n in counts.items() if n}
        for verdict, n in self.verdicts.items():
            if n and verdict not in ("ok", "redirect", "archived-error"):
                out[verdict] = n
        return out


_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")


def _only(q: _Q, column: Any, policy_id: int | None, ids: Sequence[int] | None) -> _Q:
    """``q`` restricted to one policy, a batch of policies, or neither."""
    if policy_id is not None:
        q = q.where(column == policy_id)
    if ids is not None:
        q = q.where(column.in_(list(ids)))
    return q


def policies(
    store: Store,
    policy_id: int | None = None,
    *,
    after: int | None = None,
    limit: int | None = None,
) -> list[PolicyInfo]:
    """Policies in id order; ``after`` and ``limit``: the next batch after policy ``after``."""
    with Session(store.engine) as s:
        q = select(Policy.id, Policy.url, Policy.site, Policy.key).order_by(Policy.id)
        if policy_id is not None:
            q = q.where(Policy.id == policy_id)
        if after is not None:
            q = q.where(Policy.id > after)
        if limit is not None:
            q = q.limit(limit)
        return [PolicyInfo(*row) for row in s.execute(q).all()]


def versions_by_policy(
    store: Store, policy_id: int | None = None, *, ids: Sequence[int] | None = None
) -> dict[int, list[VersionInfo]]:
    """Every version, in seq order per policy, with its first and last capture."""
    first = Capture.__table__.alias("first_cap")
    last = Capture.__table__.alias("last_cap")
    q = (
        select(
            Version.id,
            Version.policy_id,
            Version.seq,
            Version.text_id,
            Version.text_hash,
            Version.chars,
            Version.title,
            Version.first_seen,
            Version.last_seen,
            Version.stated_date,
            first.c.timestamp,
            first.c.original_url,
            first.c.archive,
            last.c.timestamp,
            last.c.original_url,
            last.c.archive,
        )
        .join(first, first.c.id == Version.first_capture_id)
        .join(last, last.c.id == Version.last_capture_id)
        .order_by(Version.policy_id, Version.seq)
    )
    q = _only(q, Version.policy_id, policy_id, ids)
    out: dict[int, list[VersionInfo]] = {}
    with Session(store.engine) as s:
        for row in s.execute(q).all():
            (vid, pid, seq, text_id, text_hash, chars, title, fs, ls, stated) = row[:10]
            fts, furl, farch, lts, lurl, larch = row[10:]
            out.setdefault(pid, []).append(
                VersionInfo(
                    vid,
                    pid,
                    seq,
                    text_id,
                    text_hash,
                    chars,
                    title or "",
                    fs,
                    ls,
                    stated,
                    CaptureEnd(fts, furl, farch or ""),
                    CaptureEnd(lts, lurl, larch or ""),
                )
            )
    return out


def capture_quality(
    store: Store, policy_id: int | None = None, *, ids: Sequence[int] | None = None
) -> dict[int, CaptureQuality]:
    """Per policy: capture counts by state and verdict, and redirects that leave the policy."""
    q = select(
        Capture.policy_id,
        Capture.state,
        Capture.verdict,
        Capture.leaves_policy,
        func.count(),
    ).group_by(Capture.policy_id, Capture.state, Capture.verdict, Capture.leaves_policy)
    q = _only(q, Capture.policy_id, policy_id, ids)
    out: dict[int, CaptureQuality] = {}
    with Session(store.engine) as s:
        for pid, state, verdict, leaves, n in s.execute(q).all():
            qd = out.setdefault(pid, CaptureQuality())
            qd.captures += n
            qd.states[state] += n
            if state in ("fetched", "duplicate"):  # verdicts of what was read as the policy
                if verdict == "ok":
                    qd.ok += n
                elif verdict:
                    qd.verdicts[verdict] += n
            if leaves:
                qd.leaves_policy += n
    return out


def policy_urls(
    store: Store, policy_id: int | None = None, *, ids: Sequence[int] | None = None
) -> dict[int, list[str]]:
    """Every URL tracked for each policy (a policy survives URL moves)."""
    q = select(PolicyUrl.policy_id, PolicyUrl.url).order_by(PolicyUrl.policy_id, PolicyUrl.id)
    q = _only(q, PolicyUrl.policy_id, policy_id, ids)
    out: dict[int, list[str]] = {}
    with Session(store.engine) as s:
        for pid, url in s.execute(q).all():
            out.setdefault(pid, []).append(url)
    return out
