#!/usr/bin/env python3
"""A Tandem client in Python, written from Protocols/ alone (WIRE.md for framing and CBOR,
Identity.md, Matching.md and Scheduling.md for the messages, Gateway.md for the endpoint):
the standard library's ssl and socket, and cbor2.

It signs in through the gateway, lists the mentee's recommendations, finds slots for a match and
books the best one with an idempotency key, then prints what it did as JSON on stdout.

Usage: gateway_client.py HOST PORT CA_FILE ORGANISATION EMAIL PASSWORD PROGRAM_ID MATCH_ID
"""
import datetime
import json
import socket
import ssl
import struct
import sys
import uuid
import zlib

import cbor2

# WIRE.md §2.2 frame types and §2.3 flags.
SETTINGS, HEADERS, MESSAGE, TRAILERS, CANCEL, PING, PONG, GOAWAY = range(8)
COMPRESSED, END_STREAM = 0x01, 0x02
LIMIT = 4 * 1024 * 1024


class CallError(Exception):
    def __init__(self, code, message, details):
        super().__init__("status %d: %s" % (code, message))
        self.code, self.message, self.details = code, message, details


class Connection:
    """One TLS connection to the gateway; one call at a time, stream ids 1, 3, 5, …"""

    def __init__(self, host, port, cafile, server_name="gateway"):
        context = ssl.create_default_context(cafile=cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.set_alpn_protocols(["tandem/1"])
        self.sock = context.wrap_socket(socket.create_connection((host, port), timeout=30), server_hostname=server_name)
        self.rfile = self.sock.makefile("rb")
        self.next_stream = 1
        self.sock.sendall(b"TANDEM/1")  # §3.1 preface
        self.write(SETTINGS, 0, cbor2.dumps({"compression": ["deflate"]}))
        ftype, _, _, payload = self.read()
        if ftype != SETTINGS:
            raise ConnectionError("expected the server's SETTINGS first")
        self.server_settings = cbor2.loads(payload)

    def write(self, ftype, stream, payload=b"", flags=0):
        self.sock.sendall(struct.pack(">IBBI", len(payload), ftype, flags, stream) + payload)

    def read(self):
        header = self.rfile.read(10)
        if len(header) < 10:
            raise ConnectionError("connection closed")
        length, ftype, flags, stream = struct.unpack(">IBBI", header)
        if length > LIMIT:
            raise ConnectionError("frame larger than our maxFrameSize")
        return ftype, flags, stream & 0x7FFFFFFF, self.rfile.read(length)

    def unary(self, method, request, token=None, idempotency_key=None, timeout_s=10):
        stream = self.next_stream
        self.next_stream += 2
        metadata = {}
        if token:
            metadata["authorization"] = "Bearer " + token
        if idempotency_key:
            metadata["idempotency-key"] = idempotency_key
        headers = {"method": method, "timeout": int(timeout_s * 1_000_000)}
        if metadata:
            headers["metadata"] = metadata
        self.write(HEADERS, stream, cbor2.dumps(headers))
        self.write(MESSAGE, stream, cbor2.dumps(request), END_STREAM)
        response = None
        while True:
            ftype, flags, got, payload = self.read()
            if ftype == PING:
                self.write(PONG, 0, payload)
            elif got != stream:
                continue
            elif ftype == MESSAGE:
                if flags & COMPRESSED:
                    payload = zlib.decompressobj().decompress(payload, LIMIT + 1)
                response = cbor2.loads(payload)
            elif ftype == TRAILERS:
                trailers = cbor2.loads(payload)
                if trailers["code"] != 0:
                    raise CallError(trailers["code"], trailers.get("message", ""), trailers.get("details", []))
                return response


def main():
    host, port, cafile, organisation, email, password, program_id, match_id = sys.argv[1:9]
    connection = Connection(host, int(port), cafile)

    # identity.SignIn: text keys are accepted for integer-keyed messages (WIRE.md §6.3); Tokens
    # answers with integer keys (Identity.md): 1 accessToken.
    tokens = connection.unary("identity.SignIn", {"organisation": organisation, "email": email, "password": password})
    token = tokens[1]

    # Without the token the gateway refuses (Gateway.md, At the edge): 16 UNAUTHENTICATED.
    try:
        connection.unary("matching.Recommend", {"programID": uuid.UUID(program_id)})
        refused = None
    except CallError as error:
        refused = error.code

    # matching.Recommend → RecommendationList: 2 recommendations; Recommendation: 1 mentorID, 3 score, 4 parts.
    recommendations = connection.unary("matching.Recommend", {"programID": uuid.UUID(program_id), "limit": 3}, token=token)
    mentors = [{"mentorID": str(r[1]), "score": r[3], "parts": sum(p[2] for p in r[4])} for r in recommendations[2]]

    # scheduling.FindSlots → SlotList: 1 slots; Slot: 1 start (a tag-1 date, which cbor2 gives as a datetime).
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    slots = connection.unary("scheduling.FindSlots", {
        "matchID": uuid.UUID(match_id), "durationMinutes": 30, "from": start, "to": start + datetime.timedelta(days=7),
    }, token=token)
    best = slots[1][0][1]

    # scheduling.BookMeeting with an idempotency key: the same key again returns the same meeting (Scheduling.md).
    request = {"matchID": uuid.UUID(match_id), "start": best, "durationMinutes": 30, "timeZone": "Europe/London", "agenda": "Booked from Python"}
    meeting = connection.unary("scheduling.BookMeeting", request, token=token, idempotency_key="python-client-1")
    again = connection.unary("scheduling.BookMeeting", request, token=token, idempotency_key="python-client-1")
    # Without the key it conflicts with itself: 9 FAILED_PRECONDITION.
    try:
        connection.unary("scheduling.BookMeeting", request, token=token)
        conflict = None
    except CallError as error:
        conflict = error.code

    print(json.dumps({
        "refusedWithoutToken": refused,
        "mentors": mentors,
        "meetingID": str(meeting[1]),
        "sameMeetingOnRetry": again[1] == meeting[1],
        "start": best.isoformat(),
        "conflictWithoutKey": conflict,
    }))


if __name__ == "__main__":
    main()
