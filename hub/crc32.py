"""CRC-32 arithmetic: the CRC of a concatenation from the CRCs of its parts, without reading the bytes.

``zlib.crc32`` carries a CRC forward over more bytes; it cannot join two CRCs already computed. zlib itself
can (``crc32_combine``), but Python's ``zlib`` module does not offer it. The rule it uses is linear algebra
over GF(2): for the CRC-32 of ``zlib.crc32`` (reflected polynomial ``0xEDB88320``, pre- and post-inverted),

    crc(A + B) == shift(crc(A), len(B)) ^ crc(B)

where ``shift(c, n)`` multiplies ``c`` by x^(8n) modulo the polynomial. :mod:`hub.feed_cache` uses it to give
a rebuilt gzip file its trailer's CRC without reading the unchanged runs it copies: their CRCs come from
prefix CRCs the previous version's index keeps. Each call costs tens of microseconds (pure Python), so it
is for a few hundred joins per build, never one per job.
"""

from __future__ import annotations

#: The CRC-32 polynomial, bit-reflected, as zlib uses it.
_POLYNOMIAL = 0xEDB88320
#: x^0 in the reflected representation.
_ONE = 1 << 31


def _multiply(a: int, b: int) -> int:
    """``a * b`` modulo the polynomial (both reflected)."""
    product = 0
    bit = _ONE
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _POLYNOMIAL if b & 1 else b >> 1
    return product


def _powers() -> list[int]:
    """x^(2^k) modulo the polynomial, for k from 0 to 31 (x^(2^32) wraps to the table's start)."""
    table = [_ONE >> 1]  # x^1
    for _ in range(31):
        table.append(_multiply(table[-1], table[-1]))
    return table


_X_TO_2_TO_THE = _powers()


def shift(crc: int, length: int) -> int:
    """``crc`` multiplied by x^(8 * length): what ``crc(A)`` contributes to ``crc(A + B)`` for ``length``
    bytes of B."""
    power = _ONE
    k = 3  # x^(8n) = x^(2^3 * n): start at the table's third entry
    while length:
        if length & 1:
            power = _multiply(_X_TO_2_TO_THE[k & 31], power)
        length >>= 1
        k += 1
    return _multiply(power, crc)


def combine(first: int, second: int, second_length: int) -> int:
    """The CRC-32 of A + B from ``crc(A)``, ``crc(B)`` and ``len(B)`` (zlib's ``crc32_combine``)."""
    return shift(first, second_length) ^ second
