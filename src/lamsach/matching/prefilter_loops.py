"""The compiled loops of the prefilter (numba): cut lines, collect look-ups, then make them.

Look-ups land at random places in tables of a few MiB, so each costs a cache miss. They are
therefore made in two phases: the values of about a thousand lines are parsed and hashed first,
then all their look-ups are made in one tight loop, where the processor overlaps the misses.

The loops of the pass allocate nothing (the caller hands them ``scratch()``) and are compiled
without numba's reference counting (``_nrt=False``): counting the references to each array
passed to each helper, an atomic add and subtract a time, took a third of the pass. For the same
reason bytes are read at unsigned indices (``_u``), for which numba adds no wrap-around code.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.extending import intrinsic
from numba.cpython.unsafe.numbers import trailing_zeros

from lamsach.matching.prefilter import ADDRESS, ADDRESSES, NAME, NAMES, URI, URL_HOST
from lamsach.matching.strkeys_loops import fold, step

# What a look-up asks: is this IPv4 in a listed /24, is this name's parent a listed domain, is
# this whole name a listed domain or host name.
_IP, _PARENT, _WHOLE = 0, 1, 2
_DOT, _COLON, _BRACKET, _NEWLINE, _HASH = 46, 58, 91, 10, 35
_LINES = 1024  # lines per round
_PROBES = 32768  # look-ups per round; a line that would overflow is passed on whole
_SUSPECT = -1
_u = np.uint64  # an unsigned index: numba then adds no wrap-around of negative ones
# How the loops of the pass are compiled, and their helpers (inlined into them by numba).
_PASS: dict[str, Any] = {"cache": True, "nogil": True, "_nrt": False}
_HELPER: dict[str, Any] = {"inline": "always", **_PASS}


@numba.njit(cache=True, nogil=True, inline="always")
def bloom_bits(h: np.uint64) -> tuple[np.uint64, np.uint64]:
    """(word number, bit mask) of a running hash in the Bloom filter: 4 bits of one word."""
    h = (h ^ (h >> np.uint64(33))) * np.uint64(0xFF51AFD7ED558CCD)  # mix: FNV's low bits are weak
    h ^= h >> np.uint64(33)
    one = np.uint64(1)
    m = np.uint64(63)
    bits = (one << (h & m)) | (one << ((h >> np.uint64(6)) & m))
    bits |= (one << ((h >> np.uint64(12)) & m)) | (one << ((h >> np.uint64(18)) & m))
    return h >> np.uint64(24), bits


@numba.njit(cache=True, nogil=True)
def fill_bloom(bloom: np.ndarray, offsets: np.ndarray, data: np.ndarray, start: np.uint64) -> None:
    for i in range(len(offsets) - 1):
        h = start
        for j in range(offsets[i + 1] - 1, offsets[i] - 1, -1):
            h = step(h, data[j])
        word, bits = bloom_bits(h)
        bloom[word & np.uint64(len(bloom) - 1)] |= bits


@numba.njit(cache=True, nogil=True)
def gather(block: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The given lines of a block, each ended by a newline."""
    total = 0
    for i in range(len(starts)):
        total += ends[i] - starts[i] + 1
    out = np.empty(total, dtype=np.uint8)
    at = 0
    for i in range(len(starts)):
        n = ends[i] - starts[i]
        out[at : at + n] = block[starts[i] : ends[i]]
        out[at + n] = _NEWLINE
        at += n + 1
    return out


# --- phase 1: values to look-ups ----------------------------------------------------------------


@numba.njit(**_HELPER)
def _ipv4(block: np.ndarray, s: int, e: int) -> int:
    """The IPv4 address in ``block[s:e]`` in strict dotted decimal (as the kernel reads), or -1.

    A part is checked at its dot or the end, so that a digit costs one branch.
    """
    if e - s > 15:
        return -1  # longer than any address (and no part can overflow below)
    value = 0
    part = 0
    first = s  # of the current part
    dots = 0
    for j in range(s, e):
        digit = int(block[_u(j)]) - 48
        if 0 <= digit <= 9:
            part = part * 10 + digit
        elif digit == _DOT - 48 and dots < 3 and _part(block, first, j, part):
            value = value * 256 + part
            part = 0
            first = j + 1
            dots += 1
        else:
            return -1
    if dots != 3 or not _part(block, first, e, part):
        return -1
    return value * 256 + part


@numba.njit(**_HELPER)
def _part(block: np.ndarray, s: int, e: int, value: int) -> bool:
    # One to three digits up to 255, without a leading zero (the kernel reads no other).
    n = e - s
    return 1 <= n <= 3 and value <= 255 and (n == 1 or block[_u(s)] != 48)


@numba.njit(**_HELPER)
def _ipv6_may_match(block: np.ndarray, s: int, e: int, any_ip: bool, any_v6: bool) -> bool:
    # An IPv6 value matches only IPv6 indicators, or IPv4 ones when IPv4-mapped (::ffff:...).
    if any_v6:
        return True
    if not any_ip:
        return False
    run = 0
    for j in range(s, e):
        if block[_u(j)] | 32 == 102:  # f or F
            run += 1
            if run == 4:
                return True
        else:
            run = 0
    return False


@numba.njit(**_HELPER)
def _add(
    count: int, kind: int, value: np.uint64, line: int, kinds: np.ndarray, values: np.ndarray,
    lines: np.ndarray,
) -> int:  # fmt: skip
    if count < 0 or count >= len(kinds):
        return _SUSPECT  # no room: the line goes to the reader
    kinds[_u(count)] = kind
    values[_u(count)] = value
    lines[_u(count)] = line
    return count + 1


_NOTHING = -3  # an address field's verdict: no indicator can match it


@numba.njit(**_HELPER)
def _address_verdict(block: np.ndarray, s: int, e: int, any_ip: bool, any_v6: bool) -> int:
    """An address field's IPv4 address to look up, _NOTHING, or _SUSPECT (to the reader)."""
    address = _ipv4(block, s, e)
    if address >= 0:
        return address
    for j in range(s, e):
        if block[_u(j)] == _COLON:
            return _SUSPECT if _ipv6_may_match(block, s, e, any_ip, any_v6) else _NOTHING
    return _NOTHING  # not an address: nothing can match it


@numba.njit(**_HELPER)
def _address(
    block: np.ndarray, s: int, e: int, line: int, any_ip: bool, any_v6: bool,
    kinds: np.ndarray, values: np.ndarray, lines: np.ndarray, count: int,
) -> int:  # fmt: skip
    """Look-ups for an address; _SUSPECT when the line must go to the reader anyway."""
    return _look_up_address(_address_verdict(block, s, e, any_ip, any_v6), line, kinds, values,
                            lines, count)  # fmt: skip


@numba.njit(**_HELPER)
def _look_up_address(
    verdict: int, line: int, kinds: np.ndarray, values: np.ndarray, lines: np.ndarray, count: int
) -> int:
    if verdict >= 0:
        return _add(count, _IP, np.uint64(verdict), line, kinds, values, lines)
    return _SUSPECT if verdict == _SUSPECT else count


@numba.njit(**_HELPER)
def _same_bytes(block: np.ndarray, a: int, b: int, n: int) -> bool:
    for j in range(n):  # noqa: SIM110 - a plain loop compiles to a plain loop
        if block[_u(a + j)] != block[_u(b + j)]:
            return False
    return True


_SLOW = -2  # a name the one-pass hashing cannot take
# Bytes of a name by what the hashing does with them (a table: one load, not three compares).
_PLAIN_BYTE, _DOT_BYTE, _ODD_BYTE = 0, 1, 2
_BYTE_KIND = np.full(256, _PLAIN_BYTE, dtype=np.uint8)
_BYTE_KIND[_DOT] = _DOT_BYTE
_BYTE_KIND[[_COLON, _BRACKET]] = _ODD_BYTE
_BYTE_KIND[128:] = _ODD_BYTE
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[65:91] += 32


@numba.njit(**_HELPER)
def _hash_name(
    block: np.ndarray, s: int, e: int, line: int, start: np.uint64, kinds: np.ndarray,
    values: np.ndarray, lines: np.ndarray, count: int,
) -> int:  # fmt: skip
    """Look-ups for a name: one pass from the right hashes it and its parents.

    _SLOW when it meets a colon, a bracket or a byte outside ASCII (the caller takes the slow way).
    """
    if e > s and block[e - 1] == _DOT:
        e -= 1  # one trailing dot is dropped
    if e <= s:
        return count
    if 48 <= block[s] <= 57:
        address = _ipv4(block, s, e)
        if address >= 0:  # an address literal is matched as an address only
            return _add(count, _IP, np.uint64(address), line, kinds, values, lines)
    h = start
    for j in range(e - 1, s - 1, -1):
        c = block[_u(j)]
        kind = _BYTE_KIND[c]
        if kind == _DOT_BYTE:
            count = _add(count, _PARENT, h, line, kinds, values, lines)
        elif kind == _ODD_BYTE:
            return _SLOW
        h = step(h, _LOWER[c])
    return _add(count, _WHOLE, h, line, kinds, values, lines)


@numba.njit(**_HELPER)
def _name(
    block: np.ndarray, s: int, e: int, line: int, any_ip: bool, any_v6: bool, start: np.uint64,
    kinds: np.ndarray, values: np.ndarray, lines: np.ndarray, count: int,
) -> int:  # fmt: skip
    """Look-ups for a host name as written: itself and its parents, or the address it is."""
    done = _hash_name(block, s, e, line, start, kinds, values, lines, count)
    if done != _SLOW:
        return done
    return _name_slow(block, s, e, line, any_ip, any_v6, start, kinds, values, lines, count)


@numba.njit(**_PASS)
def _name_slow(
    block: np.ndarray, s: int, e: int, line: int, any_ip: bool, any_v6: bool, start: np.uint64,
    kinds: np.ndarray, values: np.ndarray, lines: np.ndarray, count: int,
) -> int:  # fmt: skip
    """_name for a name with a colon, a bracket or a byte outside ASCII."""
    colons = 0
    colon = -1
    for j in range(s, e):
        c = block[_u(j)]
        if c >= 128 or c == _BRACKET:
            return _SUSPECT  # international name or bracketed literal: the kernel normalises it
        if c == _COLON:
            colons += 1
            colon = j
    if colons > 1:
        return _SUSPECT if _ipv6_may_match(block, s, e, any_ip, any_v6) else count
    # "name:port" is the name when the port is all digits; otherwise it is no name at all.
    if colon + 1 == e:
        return count
    for j in range(colon + 1, e):
        if not 48 <= block[_u(j)] <= 57:
            return count
    return _hash_name(block, s, colon, line, start, kinds, values, lines, count)


@numba.njit(**_HELPER)
def _url_host_odd(block: np.ndarray, s: int, e: int) -> bool:
    # Inside a URL, "@", "/", "?" and "#" end or split the authority: the URL's host differs.
    for j in range(s, e):
        c = block[_u(j)]
        if c == 64 or c == 47 or c == 63 or c == 35:
            return True
    return False


@numba.njit(**_HELPER)
def _field(
    block: np.ndarray, s: int, e: int, kind: int, set_separator: int, line: int, any_ip: bool,
    any_v6: bool, start: np.uint64, kinds: np.ndarray, values: np.ndarray, lines: np.ndarray,
    count: int,
) -> int:  # fmt: skip
    """Look-ups for a field of any kind but ADDRESS (which screen_block reads itself, so that a
    repeated value is not read again)."""
    if kind == NAME or kind == URL_HOST:  # noqa: SIM109 - plain compares for numba
        if kind == URL_HOST and _url_host_odd(block, s, e):
            return _SUSPECT
        return _name(block, s, e, line, any_ip, any_v6, start, kinds, values, lines, count)
    if kind == URI:
        # An absolute URI ("http...") has a host of its own: the reader and kernel judge it.
        return _SUSPECT if e > s and block[s] | 32 == 104 else count
    if kind == ADDRESSES or kind == NAMES:  # noqa: SIM109
        item = s
        for k in range(s, e + 1):
            if k == e or block[_u(k)] == set_separator:
                if kind == ADDRESSES:
                    count = _address(block, item, k, line, any_ip, any_v6, kinds, values, lines,
                                     count)  # fmt: skip
                else:
                    count = _name(block, item, k, line, any_ip, any_v6, start, kinds, values,
                                  lines, count)  # fmt: skip
                if count == _SUSPECT:
                    return count
                item = k + 1
    return count


@numba.njit(**_HELPER)
def _equal(block: np.ndarray, s: int, e: int, text: np.ndarray) -> bool:
    if len(text) != e - s:
        return False
    for j in range(e - s):  # noqa: SIM110 - a plain loop compiles to a plain loop
        if block[_u(s + j)] != text[_u(j)]:
            return False
    return True


# --- phase 2: the look-ups ----------------------------------------------------------------------


@numba.njit(**_HELPER)
def _has(keys: np.ndarray, directory: np.ndarray, shift: int, key: np.uint32) -> bool:
    bucket = np.int64(key) >> shift
    for j in range(directory[bucket], directory[bucket + 1]):
        listed = keys[j]
        if listed == key:
            return True
        if np.int64(listed) > np.int64(key):
            return False
    return False


@numba.njit(**_HELPER)
def _look_up(
    kinds: np.ndarray, values: np.ndarray, lines: np.ndarray, count: int, suspect: np.ndarray,
    maybe: np.ndarray,
    bloom: np.ndarray, blocks: np.ndarray, dom_keys: np.ndarray, dom_dir: np.ndarray,
    dom_shift: int, host_keys: np.ndarray, host_dir: np.ndarray, host_shift: int,
) -> None:  # fmt: skip
    # First every look-up in a loop free of dependencies (so the cache misses overlap), then the
    # rare positives confirmed.
    mask = np.uint64(len(bloom) - 1)
    for k in range(count):
        value = values[k]
        if kinds[k] == _IP:
            block = np.int64(value >> np.uint64(8))
            maybe[k] = (blocks[block >> 3] >> (block & 7)) & 1 == 1
        else:
            word, bits = bloom_bits(value)
            maybe[k] = bloom[word & mask] & bits == bits
    for k in range(count):
        if not maybe[k] or suspect[lines[k]]:
            continue
        if kinds[k] == _IP:
            suspect[lines[k]] = True
            continue
        # The Bloom filter says maybe; the keys say for sure (up to a 32-bit collision).
        key = fold(values[k])
        if _has(dom_keys, dom_dir, dom_shift, key) or (
            kinds[k] == _WHOLE and _has(host_keys, host_dir, host_shift, key)
        ):
            suspect[lines[k]] = True


# --- the pass ------------------------------------------------------------------------------------


def scratch(looked: int) -> tuple[np.ndarray, ...]:
    """The working arrays of :func:`screen_block` (its last arguments), made once per pass.

    ``looked``: how many fields are looked up.
    """
    return (
        np.empty(_PROBES, dtype=np.uint8),  # kinds of look-up
        np.empty(_PROBES, dtype=np.uint64),  # their values
        np.empty(_PROBES, dtype=np.int32),  # their lines
        np.empty(_LINES, dtype=np.int64),  # line starts
        np.empty(_LINES, dtype=np.int64),  # line ends
        np.empty(_LINES, dtype=np.bool_),  # lines passed on
        np.empty(_PROBES, dtype=np.bool_),  # look-ups the Bloom filter or bitmap let through
        np.empty((looked, 3), dtype=np.int64),  # the last value of each looked-up field
    )


_CHUNK = 32  # bytes compared at once: one AVX2 register (LLVM splits it where there is none)


@intrinsic
def _equal_bytes(typingctx, block, at, byte):
    """A bit mask of the 32 bytes of ``block`` from ``at`` that equal ``byte`` (bit i: byte i).

    numba has no vector operations of its own: this writes the LLVM for a vector compare, which
    becomes one compare and one move-mask instruction.
    """
    signature = types.uint32(block, at, byte)

    def codegen(context, builder, sig, args):
        array, offset, value = args
        data = context.make_array(sig.args[0])(context, builder, array).data
        vector = ir.VectorType(ir.IntType(8), _CHUNK)
        loaded = builder.load(builder.bitcast(builder.gep(data, [offset]), vector.as_pointer()))
        loaded.align = 1
        lane = ir.Constant(ir.IntType(32), 0)
        one = builder.insert_element(
            ir.Constant(vector, ir.Undefined), builder.trunc(value, ir.IntType(8)), lane
        )
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), _CHUNK), [0] * _CHUNK)
        splat = builder.shuffle_vector(one, ir.Constant(vector, ir.Undefined), zeros)
        return builder.bitcast(builder.icmp_unsigned("==", loaded, splat), ir.IntType(_CHUNK))

    return signature, codegen


@numba.njit(**_PASS)
def separators(
    base: np.ndarray, begin: int, end: int, separator: int, out: np.ndarray,
    newlines: np.ndarray,
) -> int:  # fmt: skip
    """Positions in ``base[begin:end]`` of the separators (p) and newlines (~p) into ``out``.

    32 bytes at a time; returns how many there are, or -1 when ``out`` is too small. Where the
    newlines are in ``out`` goes to ``newlines`` from its item 1 on, its item 0 counting up from
    1 (so a line's end is found at once).
    """
    count = 0
    p = begin
    while p + _CHUNK <= end:
        # (mypy takes the intrinsic's typing signature for its own)
        lines = np.uint64(_equal_bytes(base, p, _NEWLINE))  # type: ignore[call-arg]
        mask = np.uint64(_equal_bytes(base, p, separator)) | lines
        if mask:
            if count + _CHUNK > len(out):
                return -1
            while mask:
                at = trailing_zeros(mask)
                position = p + np.int64(at)
                if (lines >> at) & np.uint64(1):
                    out[_u(count)] = ~position
                    newlines[_u(newlines[0])] = count
                    newlines[0] += 1
                else:
                    out[_u(count)] = position
                count += 1
                mask &= mask - np.uint64(1)
        p += _CHUNK
    return _byte_by_byte(base, p, end, separator, out, count, newlines)


@numba.njit(**_HELPER)
def _byte_by_byte(
    base: np.ndarray,
    begin: int,
    end: int,
    separator: int,
    out: np.ndarray,
    count: int,
    newlines: np.ndarray,
) -> int:
    """separators() one byte at a time, for the last bytes; -1 (no room) stays -1.

    The few lines that note a newline are written out here as in separators(): shared through an
    inline helper, they made numba's separator loop six times slower.
    """
    if count < 0:
        return count
    for p in range(begin, end):
        c = base[p]
        if c in (separator, _NEWLINE):
            if count == len(out):
                return -1
            if c == _NEWLINE:
                out[_u(count)] = ~p
                newlines[_u(newlines[0])] = count
                newlines[0] += 1
            else:
                out[_u(count)] = p
            count += 1
    return count


@numba.njit(**_PASS)
def screen_block(
    base: np.ndarray, begin: int, end: int, seps: np.ndarray, nseps: int, newlines: np.ndarray,
    fields: int, set_separator: int, field_kinds: np.ndarray, taken_fields: np.ndarray,
    looked_fields: np.ndarray, null1: np.ndarray, null2: np.ndarray, any_ip: bool,
    any_v6: bool, start: np.uint64,
    bloom: np.ndarray, blocks: np.ndarray, dom_keys: np.ndarray, dom_dir: np.ndarray,
    dom_shift: int, host_keys: np.ndarray, host_dir: np.ndarray, host_shift: int,
    out: np.ndarray, kinds: np.ndarray, values: np.ndarray, probe_lines: np.ndarray,
    starts: np.ndarray, ends: np.ndarray, suspect: np.ndarray, maybe: np.ndarray,
    seen: np.ndarray,
) -> tuple[int, int, int]:  # fmt: skip
    """(lines, ordinary lines that cannot match, lines passed on) of ``base[begin:end]``.

    The block holds whole lines (the last may lack its newline); ``seps`` are the positions of
    its separators (p) and newlines (~p), ``newlines`` where the newlines are among them (as
    ``separators`` gives them). Of a line, only the fields the reader takes (``taken_fields``)
    are visited, until one is not null, and those looked up (``looked_fields``, by
    ``field_kinds``). The passed lines are written to ``out`` as (line number in the block,
    start, end) triples while there is room; the caller grows ``out`` and calls again when the
    count says it was too small.

    An address field that holds what it held on the line before (a DNS log's resolver, a busy
    client) is not read again: ``seen`` keeps, for each looked-up field, where its last value
    starts, its length and its verdict.
    """
    for t in range(len(looked_fields)):
        seen[t, 1] = -1
    total = 0
    records = 0
    found = 0
    pos = begin
    i = 0  # the first separator of the line
    line = 1  # the next newline in ``newlines`` (its first item is their count + 1)
    while pos < end:
        taken = 0
        count = 0
        while pos < end and taken < _LINES and count < _PROBES // 2:
            line_start = pos
            # The line's end: its newline, or the block's end for a last line without one.
            if line < newlines[0]:
                k = newlines[line]
                line_end = ~seps[_u(k)]
            else:
                k = nseps
                line_end = end
            line += 1
            odd = k - i != fields - 1 or line_end == line_start or base[pos] == _HASH
            if not odd:
                # As the reader drops a line whose fields it takes are all null, it is odd too.
                odd = True
                for t in range(len(taken_fields)):
                    f = taken_fields[t]
                    s = line_start if f == 0 else seps[_u(i + f - 1)] + 1
                    e = line_end if f == fields - 1 else seps[_u(i + f)]
                    if not (e == s or _equal(base, s, e, null1) or _equal(base, s, e, null2)):
                        odd = False
                        break
            if not odd:
                before = count
                for t in range(len(looked_fields)):
                    f = looked_fields[t]
                    s = line_start if f == 0 else seps[_u(i + f - 1)] + 1
                    e = line_end if f == fields - 1 else seps[_u(i + f)]
                    if field_kinds[f] == ADDRESS:
                        if e - s != seen[t, 1] or not _same_bytes(base, s, seen[t, 0], e - s):
                            seen[t, 0] = s
                            seen[t, 1] = e - s
                            seen[t, 2] = _address_verdict(base, s, e, any_ip, any_v6)
                        count = _look_up_address(seen[t, 2], taken, kinds, values, probe_lines,
                                                 count)  # fmt: skip
                    else:
                        count = _field(base, s, e, field_kinds[f], set_separator, taken,
                                       any_ip, any_v6, start, kinds, values, probe_lines,
                                       count)  # fmt: skip
                    if count == _SUSPECT:
                        break
                # Odd too: values to normalise.
                odd = count == _SUSPECT
                if odd:
                    count = before
            suspect[taken] = odd
            starts[taken] = line_start
            ends[taken] = line_end
            taken += 1
            pos = line_end + 1
            i = k + 1
        _look_up(kinds, values, probe_lines, count, suspect, maybe, bloom, blocks, dom_keys,
                 dom_dir, dom_shift, host_keys, host_dir, host_shift)  # fmt: skip
        for t in range(taken):
            if suspect[t]:
                if 3 * found + 3 <= len(out):
                    out[3 * found] = total + t
                    out[3 * found + 1] = starts[t]
                    out[3 * found + 2] = ends[t]
                found += 1
            else:
                records += 1
        total += taken
    return total, records, found
