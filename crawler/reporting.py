"""Writing the static report: load from the store, render with ``diffing.report``, write files."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from crawler.archive import IA_BASE
from diffing import report as r
from storage import Store


def slugify(url: str, policy_id: int) -> str:
    body = re.sub(r"[^a-z0-9]+", "-", url.lower().split("://", 1)[-1]).strip("-")[:60]
    return f"{policy_id}-{body}"


def _label(clause: dict[str, object]) -> str:
    sign = "+" if clause["op"] == 1 else "−"
    values = clause.get("values") or {}
    shown: list[str] = []
    if isinstance(values, dict):
        for vs in values.values():
            if isinstance(vs, list):
                shown.extend(str(v) for v in vs)
    detail = ", ".join(shown[:4]) if shown else str(clause["sentence"])[:80]
    return f"{clause['category']}: {sign} {detail}"


def write_report(store: Store, out: Path, policy_id: int | None = None) -> Path:
    summaries = [s for s in store.summaries() if policy_id is None or s.id == policy_id]
    rows = []
    for s in summaries:
        slug = slugify(s.url, s.id)
        changes = store.changes(s.id)
        versions = store.versions(s.id)
        cats = sorted({cl["category"] for c in changes for cl in c.clauses})
        rows.append(
            r.PolicyRow(
                slug,
                s.url,
                s.versions,
                s.changes,
                s.captures,
                s.last_change,
                s.stated_date,
                cats,
                s.problems,
            )
        )
        pdir = out / slug
        pdir.mkdir(parents=True, exist_ok=True)
        ventries = [
            r.VersionEntry(
                v.seq,
                v.first_seen,
                v.last_seen,
                v.chars,
                v.stated_date,
                f"{IA_BASE}/web/{v.first_timestamp}id_/{v.first_url}",
            )
            for v in versions
        ]
        by_seq = {v.seq: v for v in versions}
        centries = [
            r.ChangeEntry(
                f"change-{c.to_seq}",
                c.from_seq,
                c.to_seq,
                c.kind,
                c.not_before,
                c.not_after,
                c.words_added,
                c.words_removed,
                c.flags,
                [_label(cl) for cl in c.clauses],
            )
            for c in changes
        ]
        (pdir / "index.html").write_text(
            r.render_policy(s.url, ventries, centries), encoding="utf-8"
        )
        for i, ce in enumerate(centries):
            new = by_seq[ce.to_seq]
            ops = store.change_ops(new.id) or []
            html = r.render_change(
                s.url,
                ce,
                ops,
                ventries[ce.from_seq - 1].wayback_url,
                ventries[ce.to_seq - 1].wayback_url,
                centries[i - 1].slug if i > 0 else None,
                centries[i + 1].slug if i + 1 < len(centries) else None,
            )
            (pdir / f"{ce.slug}.html").write_text(html, encoding="utf-8")
    index = out / "index.html"
    index.write_text(r.render_index(rows, datetime.now(UTC)), encoding="utf-8")
    return index
