"""queue_ext's load-spreading arithmetic, client side: the same values as the SQL functions.

    slot_fraction(key)          = queue.slot_fraction(key)
    slot_offset_us(key, P)      = queue.slot_offset(key, P), in microseconds
    next_slot_us(key, P, after) = queue.next_slot(key, P, after), in Unix microseconds
    bucket(key, n)              = queue.bucket(key, n)
    poll_delay_us(i, n, s, offset, at) = queue.poll_delay(...), in microseconds

Run as a script, it reads JSON lines {"key": ..., "period_us": ..., "after_us": ..., "buckets": ...}
and prints the values as JSON lines (the test suite compares them with the SQL functions).
"""
import hashlib
import json
import sys


def key_hash(key: str) -> int:
    """First 8 bytes of md5(utf8(key)), big-endian."""
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:8], "big")


def slot_fraction(key: str) -> float:
    return (key_hash(key) >> 11) / 2**53


def slot_offset_us(key: str, period_us: int) -> int:
    return min(int(slot_fraction(key) * period_us), period_us - 1)


def next_slot_us(key: str, period_us: int, after_us: int) -> int:
    candidate = after_us - after_us % period_us + slot_offset_us(key, period_us)
    return candidate if candidate >= after_us else candidate + period_us


def bucket(key: str, buckets: int) -> int:
    """Jump consistent hash (Lamping & Veach) of key_hash(key)."""
    h, b, j = key_hash(key), -1, 0
    while j < buckets:
        b = j
        h = (h * 2862933555777941757 + 1) % 2**64
        j = int((b + 1) * (float(1 << 31) / float((h >> 33) + 1)))
    return b


def poll_delay_us(index: int, count: int, spacing_us: int, offset_us: int, at_us: int) -> int:
    cycle = spacing_us * count
    phase = (offset_us % cycle + index * spacing_us) % cycle
    candidate = at_us - at_us % cycle + phase
    return (candidate if candidate >= at_us else candidate + cycle) - at_us


if __name__ == "__main__":
    for line in sys.stdin:
        q = json.loads(line)
        print(json.dumps({
            "key": q["key"],
            "fraction": slot_fraction(q["key"]),
            "offset_us": slot_offset_us(q["key"], q["period_us"]),
            "next_slot_us": next_slot_us(q["key"], q["period_us"], q["after_us"]),
            "bucket": bucket(q["key"], q["buckets"]),
        }))
