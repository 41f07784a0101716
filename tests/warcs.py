"""Writing labelled synthetic WARC response records for tests (bodies stay real captures)."""

from __future__ import annotations

import io

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def write_synthetic_response(
    w: WARCWriter,
    url: str,
    date: str,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    source: str,
    note: str,
) -> None:
    """One ``response`` record whose WARC headers say it is synthetic (``WARC-Source``)."""
    http = StatusAndHeaders(
        status, [*headers, ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
    )
    w.write_record(
        w.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date, "WARC-Source": source, "WARC-Source-Note": note},
        )
    )
