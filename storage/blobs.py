"""Compression of stored bytes: zstd, with the previous version of the same policy as a raw-content
dictionary when there is one. A date-only edit of a 100k-char policy then costs tens of bytes
instead of ~27 kB. A snapshot's dictionary also starts with its own capture's text (stored
anyway): most of a policy page's bytes are its words, so a snapshot whose words changed costs
about its markup changes (on the sample: 1.66 MB of snapshots instead of 2.09 MB). Chains are cut
every ``MAX_DEPTH`` links so a read never decodes more than that."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import zstandard

LEVEL = 9  # measured on the sample: level 19 is 13x slower for 0.6% smaller snapshots
MAX_DEPTH = 16
MAX_DICT_BYTES = 8 * 1024 * 1024  # a larger base would cost more memory than it saves
SMALL = 64 * 1024  # up to this size both ways are tried and the smaller kept


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Packed:
    codec: str
    data: bytes


def pack(data: bytes, base: bytes | None = None, prefix: bytes | None = None) -> Packed:
    """Compress ``data``; with ``prefix`` and/or ``base``, against the raw-content dictionary
    ``prefix + base`` (codec ``zstd-dict``: a reader needs the same bytes back)."""
    dictionary = (prefix or b"") + (base or b"")
    if dictionary and len(dictionary) <= MAX_DICT_BYTES:
        zdict = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        cctx = zstandard.ZstdCompressor(level=LEVEL, dict_data=zdict, write_content_size=True)
        with_dict = cctx.compress(data)
        if len(data) > SMALL or prefix:
            # a dictionary made of the same policy's bytes practically never makes a large
            # input bigger; compressing it a second time without one costs more than it saves
            return Packed("zstd-dict", with_dict)
        plain = zstandard.ZstdCompressor(level=LEVEL, write_content_size=True).compress(data)
        if len(with_dict) < len(plain):
            return Packed("zstd-dict", with_dict)
        return Packed("zstd", plain)
    return Packed(
        "zstd", zstandard.ZstdCompressor(level=LEVEL, write_content_size=True).compress(data)
    )


def unpack(
    codec: str, data: bytes, base: bytes | None = None, prefix: bytes | None = None
) -> bytes:
    if codec == "zstd":
        return zstandard.ZstdDecompressor().decompress(data)
    if codec == "zstd-dict":
        if base is None and prefix is None:
            raise ValueError("zstd-dict blob read without its base")
        dictionary = (prefix or b"") + (base or b"")
        zdict = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        return zstandard.ZstdDecompressor(dict_data=zdict).decompress(data)
    raise ValueError(f"unknown codec {codec!r}")
