#!/usr/bin/env python3
"""Checks a Tandem calendar export (RFC 5545) with independent parsers and prints what they read.

Strict: the raw text must use CRLF everywhere and fold at 75 octets without splitting a UTF-8
sequence; `icalendar.Calendar.from_ical` must parse it without a single property error; every
VTIMEZONE must load as a `dateutil` tz (`Timezone.to_tz(lookup_tzid=False)`) and agree with the
IANA database (zoneinfo) on every local time written in it, including every occurrence of a
finite RRULE; every TZID must have its VTIMEZONE; overrides must name an occurrence of their
series. Any problem prints a message and exits 1.

On success prints JSON: {"engine": ..., "timezones": [...], "events": [...]}, one event per VEVENT
with uid, dtstart and dtend in UTC (ISO 8601, `Z`), rrule (string or null), exdates (UTC),
recurrenceID (UTC or null), sequence and status; series masters also get `occurrences`, their
first 3 starts in UTC, from `recurring-ical-events` when installed (engine
"recurring-ical-events"), else from the RRULE expanded with `dateutil.rrule` in the event's zone,
less EXDATEs, with overrides applied (engine "dateutil").

Usage: python3 Tests/python/check_ics.py FILE.ics
"""
import datetime
import itertools
import json
import sys

UTC = datetime.timezone.utc
MAX_CHECKED_OCCURRENCES = 2000


def fail(message):
    print(f"check_ics: {message}", file=sys.stderr)
    sys.exit(1)


try:
    import icalendar
    from dateutil import rrule as dateutil_rrule
except ImportError as error:  # CI installs it: a missing package is a failure, not a skip
    fail(f"{error} (pip install icalendar)")

try:
    import recurring_ical_events
except ImportError:
    recurring_ical_events = None


def check_raw(data):
    """CRLF line endings, physical lines of at most 75 octets, each valid UTF-8 on its own."""
    if not data.endswith(b"\r\n"):
        fail("the file does not end with CRLF")
    physical = data[:-2].split(b"\r\n")
    for number, line in enumerate(physical, 1):
        if b"\r" in line or b"\n" in line:
            fail(f"line {number}: bare CR or LF (lines must end with CRLF)")
        if len(line) > 75:
            fail(f"line {number}: {len(line)} octets (at most 75 before the CRLF)")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            fail(f"line {number}: folding split a UTF-8 sequence or invalid UTF-8 ({error})")
        if not line:
            fail(f"line {number}: empty line")
    if not physical[0] == b"BEGIN:VCALENDAR" or not physical[-1] == b"END:VCALENDAR":
        fail("the file must start with BEGIN:VCALENDAR and end with END:VCALENDAR")


def utc(value):
    if not isinstance(value, datetime.datetime):
        fail(f"{value!r} is not a date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        fail(f"{value!r} is a floating time (no TZID and no Z)")
    return value.astimezone(UTC)


def iso(value):
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def tzid_of(prop):
    tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
    return str(tzid) if tzid is not None else None


class Zones:
    """The calendar's own VTIMEZONEs, loaded by dateutil, checked against zoneinfo."""

    def __init__(self, calendar):
        self.own = {}
        self.summary = []
        for component in calendar.walk("VTIMEZONE"):
            tzid = str(component.get("TZID", ""))
            if not tzid:
                fail("VTIMEZONE without TZID")
            if tzid in self.own:
                fail(f"two VTIMEZONEs for {tzid}")
            observances = [c for c in component.subcomponents if c.name in ("STANDARD", "DAYLIGHT")]
            if not observances:
                fail(f"VTIMEZONE {tzid} has no STANDARD or DAYLIGHT")
            onsets = []
            for observance in observances:
                for name in ("DTSTART", "TZOFFSETFROM", "TZOFFSETTO"):
                    if name not in observance:
                        fail(f"VTIMEZONE {tzid}: {observance.name} without {name}")
                start = observance["DTSTART"].dt
                if not isinstance(start, datetime.datetime) or start.tzinfo is not None:
                    fail(f"VTIMEZONE {tzid}: DTSTART {start!r} must be a local date-time")
                offset_from = observance["TZOFFSETFROM"].td
                offset_to = observance["TZOFFSETTO"].td
                onsets.append((start - offset_from, offset_from, offset_to, observance.name))
            onsets.sort()
            for previous, current in zip(onsets, onsets[1:]):
                if previous[2] != current[1]:
                    fail(f"VTIMEZONE {tzid}: TZOFFSETFROM at {current[0]} UTC does not continue the previous TZOFFSETTO")
            try:
                self.own[tzid] = component.to_tz(lookup_tzid=False)
            except Exception as error:  # noqa: BLE001 - any failure to load is the finding
                fail(f"VTIMEZONE {tzid} does not load as a time zone: {error!r}")
            self.summary.append({
                "tzid": tzid,
                "observances": len(observances),
                "standard": sum(1 for o in observances if o.name == "STANDARD"),
                "daylight": sum(1 for o in observances if o.name == "DAYLIGHT"),
            })

    def check(self, what, value, tzid):
        """`value` as icalendar resolved it (IANA zoneinfo) must be the instant our VTIMEZONE gives."""
        if tzid is None:
            if value.tzinfo is None or value.utcoffset() != datetime.timedelta(0):
                fail(f"{what}: {value!r} has no TZID and is not UTC")
            return
        if tzid not in self.own:
            fail(f"{what}: TZID={tzid} has no VTIMEZONE in the file")
        ours = value.replace(tzinfo=None).replace(tzinfo=self.own[tzid])
        if utc(ours) != utc(value):
            fail(f"{what}: {value.replace(tzinfo=None)} in {tzid} is {iso(value)} in the IANA database "
                 f"but {iso(ours)} by the file's VTIMEZONE")


def date_list(prop):
    """(value, tzid) for every date in an EXDATE property (one line or several)."""
    props = prop if isinstance(prop, list) else [prop]
    values = []
    for item in props:
        for entry in item.dts:
            values.append((entry.dt, tzid_of(item)))
    return values


def first_occurrences(calendar, uid, master, overrides, exdates):
    """The first 3 occurrence starts of a series, as a calendar would show them."""
    if recurring_ical_events is not None:
        subset = icalendar.Calendar()
        for component in calendar.subcomponents:
            if component.name == "VTIMEZONE" or str(component.get("UID", "")) == uid:
                subset.add_component(component)
        earliest = utc(master["DTSTART"].dt) - datetime.timedelta(days=400)
        found = itertools.islice(recurring_ical_events.of(subset).after(earliest), 3)
        return [iso(event["DTSTART"].dt) for event in found]
    start = master["DTSTART"].dt
    rules = dateutil_rrule.rruleset()
    rules.rrule(dateutil_rrule.rrulestr(master["RRULE"].to_ical().decode(), dtstart=start))
    for value in exdates:
        rules.exdate(value)
    moved = {utc(o["RECURRENCE-ID"].dt): o["DTSTART"].dt for o in overrides}
    starts = [moved.get(utc(value), value) for value in itertools.islice(rules, 3 + len(moved))]
    return [iso(value) for value in sorted(starts, key=utc)[:3]]


def main():
    if len(sys.argv) != 2:
        fail("usage: check_ics.py FILE.ics")
    with open(sys.argv[1], "rb") as file:
        data = file.read()
    check_raw(data)
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as error:  # noqa: BLE001
        fail(f"icalendar cannot parse the file: {error!r}")
    for component in calendar.walk():
        if component.errors:
            fail(f"{component.name}: property errors {component.errors}")
    if calendar.name != "VCALENDAR":
        fail(f"top component is {calendar.name}")
    if str(calendar.get("VERSION", "")) != "2.0" or not calendar.get("PRODID"):
        fail("VCALENDAR needs VERSION:2.0 and PRODID")

    zones = Zones(calendar)
    events = list(calendar.walk("VEVENT"))
    masters, seen, output = {}, set(), []
    for event in events:
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND"):
            if name not in event:
                fail(f"VEVENT without {name}")
        uid = str(event["UID"])
        recurrence = event.get("RECURRENCE-ID")
        key = (uid, iso(recurrence.dt) if recurrence is not None else None)
        if key in seen:
            fail(f"two VEVENTs for {key}")
        seen.add(key)
        if recurrence is None and "RRULE" in event:
            masters[uid] = event

    for event in events:
        uid = str(event["UID"])
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        zones.check(f"{uid} DTSTART", start, tzid_of(event["DTSTART"]))
        zones.check(f"{uid} DTEND", end, tzid_of(event["DTEND"]))
        if utc(end) < utc(start):
            fail(f"{uid}: DTEND before DTSTART")
        utc(event["DTSTAMP"].dt)
        exdates = date_list(event["EXDATE"]) if "EXDATE" in event else []
        for value, tzid in exdates:
            zones.check(f"{uid} EXDATE", value, tzid)
        recurrence = event.get("RECURRENCE-ID")
        if recurrence is not None:
            zones.check(f"{uid} RECURRENCE-ID", recurrence.dt, tzid_of(recurrence))
            if uid not in masters:
                fail(f"{uid}: override without a recurring master")
        status = str(event.get("STATUS", ""))
        if status not in ("CONFIRMED", "CANCELLED", "TENTATIVE"):
            fail(f"{uid}: STATUS {status!r}")
        rrule = event.get("RRULE")
        entry = {
            "uid": uid,
            "dtstart": iso(start),
            "dtend": iso(end),
            "rrule": rrule.to_ical().decode() if rrule is not None else None,
            "exdates": [iso(value) for value, _ in exdates],
            "recurrenceID": iso(recurrence.dt) if recurrence is not None else None,
            "sequence": int(event.get("SEQUENCE", 0)),
            "status": status,
        }
        if recurrence is None and rrule is not None:
            overrides = [e for e in events if str(e["UID"]) == uid and e.get("RECURRENCE-ID") is not None]
            rule = dateutil_rrule.rrulestr(rrule.to_ical().decode(), dtstart=start)
            finite = rrule.get("COUNT") or rrule.get("UNTIL")
            occurrences = list(itertools.islice(rule, MAX_CHECKED_OCCURRENCES))
            if finite:
                # Every occurrence's local time must resolve the same way through the file's VTIMEZONE.
                for occurrence in occurrences:
                    zones.check(f"{uid} occurrence", occurrence, tzid_of(event["DTSTART"]))
                instants = {utc(o) for o in occurrences}
                for value, _ in exdates:
                    if utc(value) not in instants:
                        fail(f"{uid}: EXDATE {iso(value)} is not an occurrence of the rule")
                for override in overrides:
                    if utc(override["RECURRENCE-ID"].dt) not in instants:
                        fail(f"{uid}: RECURRENCE-ID {iso(override['RECURRENCE-ID'].dt)} is not an occurrence of the rule")
            entry["occurrences"] = first_occurrences(calendar, uid, event, overrides, [v for v, _ in exdates])
        output.append(entry)

    print(json.dumps({
        "engine": "recurring-ical-events" if recurring_ical_events is not None else "dateutil",
        "timezones": zones.summary,
        "events": output,
    }, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
