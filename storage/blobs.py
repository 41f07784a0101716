"""Compression of stored bytes: zstd, with the previous version of the same policy (for a text,
its two newest texts) as a raw-content dictionary when there is one. A date-only edit of a
100k-char policy then costs tens of bytes instead of ~27 kB. A snapshot's dictionary also starts
with its own capture's text (stored anyway): most of a policy page's bytes are its words, so a
snapshot whose words changed costs about its markup changes (on the sample: 1.66 MB of snapshots
instead of 2.09 MB). Chains are cut every ``MAX_DEPTH`` links so a read never decodes more than
that."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import zstandard

LEVEL = 10  # on the sample: level 9 is 0.6% bigger; 11 and up are 3x+ slower
MIN_WINDOW_LOG = 10
MAX_WINDOW_LOG = 27  # the largest window a default zstd decompressor accepts
MAX_DEPTH = 16
MAX_DICT_BYTES = 8 * 1024 * 1024  # a larger base would cost more memory than it saves
SMALL = 64 * 1024  # up to this size both ways may be tried and the smaller kept
# ... when the dictionary did not shrink the input this many times (on the sample: 15 of 58
# small texts are compressed twice instead of all 58, and no byte is lost)
PLAIN_WORTH_TRYING = 5


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Packed:
    codec: str
    data: bytes


def compressor(size: int, dictionary: bytes = b"") -> zstandard.ZstdCompressor:
    """A zstd compressor at ``LEVEL`` for ``size`` bytes against ``dictionary``, with match
    tables sized to the input and dictionary instead of zstd's defaults for large inputs (on
    the sample: 30% less CPU than plain level 10, and still fewer bytes than level 9)."""
    dict_size = len(dictionary)
    bits = min(MAX_WINDOW_LOG, max(MIN_WINDOW_LOG, (size + dict_size - 1).bit_length()))
    p = zstandard.ZstdCompressionParameters.from_level(LEVEL, source_size=size + dict_size)
    params = zstandard.ZstdCompressionParameters(
        window_log=bits,
        chain_log=min(p.chain_log, bits - 1),
        hash_log=min(p.hash_log, bits - 1),
        search_log=p.search_log,
        min_match=p.min_match,
        target_length=p.target_length,
        strategy=p.strategy,
        write_content_size=True,
    )
    if not dictionary:
        return zstandard.ZstdCompressor(compression_params=params)
    zdict = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdCompressor(compression_params=params, dict_data=zdict)


def pack(
    data: bytes,
    base: bytes | None = None,
    prefix: bytes | None = None,
    *,
    prefix_is_own: bool = True,
    keep_dictionary: bool = False,
) -> Packed:
    """Compress ``data``; with ``prefix`` and/or ``base``, against the raw-content dictionary
    ``prefix + base`` (codec ``zstd-dict``: a reader needs the same bytes back).
    ``prefix_is_own``: the prefix is the data's own text (a snapshot's), so the dictionary is
    kept without trying plain zstd; otherwise (a text's older text) it is treated as a base.
    ``keep_dictionary``: keep it without trying plain zstd in any case (a snapshot against the
    previous snapshot of the same text, without the text)."""
    dictionary = (prefix or b"") + (base or b"")
    if dictionary and len(dictionary) <= MAX_DICT_BYTES:
        with_dict = compressor(len(data), dictionary).compress(data)
        sure = keep_dictionary or (prefix is not None and prefix_is_own)
        if len(data) > SMALL or sure or len(with_dict) * PLAIN_WORTH_TRYING < len(data):
            # a dictionary made of the same policy's bytes practically never makes a large
            # input bigger, nor one it shrank 5-fold (plain zstd gets about 3-4-fold on policy
            # text): compressing it a second time without one costs more than it saves
            return Packed("zstd-dict", with_dict)
        plain = compressor(len(data)).compress(data)
        if len(with_dict) < len(plain):
            return Packed("zstd-dict", with_dict)
        return Packed("zstd", plain)
    return Packed("zstd", compressor(len(data)).compress(data))


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
