#!/usr/bin/env python3
"""Checks Protocols/vectors/vectors.json with an independent implementation: Python's cbor2
decodes every CBOR item to the same RFC 8949 diagnostic notation the Swift side recorded, and a
frame reader written from Protocols/WIRE.md alone agrees with every frame's fields.

Usage: python3 Tests/python/test_vectors.py [path/to/vectors.json]
"""
import datetime
import decimal
import io
import json
import math
import struct
import sys
import uuid
import zlib

import cbor2

PREFACE = b"TANDEM/1"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def diag(value):
    """RFC 8949 §8 diagnostic notation, in the form the Swift CBORValue prints."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if value is cbor2.undefined:
        return "undefined"
    if isinstance(value, int):
        if -(2**64) <= value < 2**64:
            return str(value)
        if value > 0:
            return "2(h'%s')" % value.to_bytes((value.bit_length() + 7) // 8, "big").hex()
        n = -1 - value
        return "3(h'%s')" % n.to_bytes((n.bit_length() + 7) // 8, "big").hex()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value == int(value) and abs(value) < 1e16:
            return ("-" if math.copysign(1, value) < 0 and value == 0 else "") + "%d.0" % int(value)
        return repr(value)
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(value, (bytes, bytearray)):
        return "h'%s'" % bytes(value).hex()
    if isinstance(value, list):
        return "[" + ", ".join(diag(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (diag(k), diag(v)) for k, v in value.items()) + "}"
    if isinstance(value, cbor2.CBORTag):
        return "%d(%s)" % (value.tag, diag(value.value))
    if isinstance(value, uuid.UUID):
        return "37(h'%s')" % value.bytes.hex()
    if isinstance(value, datetime.datetime):
        # Tandem writes dates as tag 1: an integer when whole, else a float.
        delta = value - EPOCH
        seconds = delta.days * 86400 + delta.seconds + delta.microseconds / 1e6
        return "1(%s)" % (str(int(seconds)) if seconds == int(seconds) else repr(seconds))
    if isinstance(value, decimal.Decimal):
        sign, digits, exponent = value.as_tuple()
        mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        return "4([%d, %d])" % (exponent, mantissa)
    raise TypeError("no diagnostic form for %r" % (value,))


def loads_exactly(data):
    """Decodes one CBOR item and checks it fills the input."""
    stream = io.BytesIO(data)
    value = cbor2.CBORDecoder(stream).decode()
    if stream.tell() != len(data):
        raise ValueError("%d trailing bytes" % (len(data) - stream.tell()))
    return value


def read_frames(data, preface):
    """Splits bytes into frames as Protocols/WIRE.md §2 describes."""
    if preface:
        if data[:8] != PREFACE:
            raise ValueError("missing preface")
        data = data[8:]
    frames = []
    while data:
        if len(data) < 10:
            raise ValueError("truncated header")
        length, ftype, flags, stream = struct.unpack(">IBBI", data[:10])
        payload = data[10:10 + length]
        if len(payload) != length:
            raise ValueError("truncated payload")
        frames.append((ftype, flags, stream & 0x7FFFFFFF, payload))
        data = data[10 + length:]
    return frames


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "Protocols/vectors/vectors.json"
    with open(path) as handle:
        vectors = json.load(handle)["vectors"]
    failures = []
    for vector in vectors:
        name = vector["name"]
        data = bytes.fromhex(vector["hex"])
        try:
            if vector["kind"] == "cbor":
                got = diag(loads_exactly(data))
                if got != vector["diagnostic"]:
                    failures.append("%s: cbor2 gives %s, Swift recorded %s" % (name, got, vector["diagnostic"]))
            else:
                frames = read_frames(data, vector.get("preface", False))
                expected = vector["frames"]
                if len(frames) != len(expected):
                    failures.append("%s: %d frames, expected %d" % (name, len(frames), len(expected)))
                    continue
                for (ftype, flags, stream, payload), want in zip(frames, expected):
                    if (ftype, flags, stream, payload.hex()) != (want["type"], want["flags"], want["stream"], want["payloadHex"]):
                        failures.append("%s: frame fields differ: %r vs %r" % (name, (ftype, flags, stream), want))
                    if "diagnostic" in want:
                        if flags & 0x01:
                            payload = zlib.decompress(payload)
                        got = diag(loads_exactly(payload))
                        if got != want["diagnostic"]:
                            failures.append("%s: payload %s, Swift recorded %s" % (name, got, want["diagnostic"]))
        except Exception as error:  # noqa: BLE001 - report every vector's failure
            failures.append("%s: %s: %s" % (name, type(error).__name__, error))
    for failure in failures:
        print("FAIL", failure)
    print("%d vectors checked, %d failures" % (len(vectors), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
