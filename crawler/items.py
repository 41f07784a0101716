"""What the spider hands to the pipeline: plain dataclasses, one per outcome of a capture."""

from __future__ import annotations

from dataclasses import dataclass, field

from diffing.records import CaptureRef


@dataclass(frozen=True, slots=True)
class Target:
    """A tracked URL, as the spider knows it."""

    policy_id: int
    url_id: int
    url: str


@dataclass(slots=True)
class FetchedCapture:
    """A capture fetched in raw mode (or that failed to be): the pipeline normalises and stores it,
    then stores ``siblings`` (same digest, not fetched) as duplicates of it."""

    target: Target
    capture: CaptureRef
    archive: str
    state: str  # fetched | redirect | archived-error | failed (retried) | unfetchable (final)
    body: bytes | None = None
    content_type: str = ""
    replay_url: str = ""
    redirect_to: str | None = None
    error: str | None = None
    siblings: list[CaptureRef] = field(default_factory=list)
    # archived redirects followed inside the archive: [{"timestamp", "url", "status"}, ...] from
    # the capture itself to where the chain ended
    redirect_chain: list[dict[str, object]] | None = None
    leaves_policy: bool = False  # the chain ended somewhere that is not this policy


@dataclass(slots=True)
class KnownCaptures:
    """Captures whose digest is already stored for the policy: stored without fetching."""

    target: Target
    archive: str
    captures: list[CaptureRef]
