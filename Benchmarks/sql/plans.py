#!/usr/bin/env python3
"""Times the statements whose plans changed on 2026-11-28 (indexes and rewritten joins), old against
new, on the services' own schemas (read from their migrations) filled with synthetic rows, in the
system SQLite through Python's sqlite3 module. Run from the repository root:

    python3 Benchmarks/sql/plans.py
"""
import os, re, sqlite3, time, uuid, random

def schema(path, versions):
    src = open(path).read()
    parts = []
    for version in versions:
        match = re.search(r'Migration\(version: %d, """(.*?)"""\)' % version, src, re.S) or \
                re.search(r'Migration\(version: %d, "(.*?)"\)' % version, src, re.S)
        parts.append(match.group(1))
    return parts

def timed(db, sql, args_list):
    start = time.perf_counter()
    for args in args_list:
        db.execute(sql, args).fetchall()
    return (time.perf_counter() - start) / len(args_list) * 1e3

def b(): return uuid.uuid4().bytes
random.seed(1)

# Identity: 20 organisations of 10,000 people, each in one program.
v1, v3 = schema('Sources/IdentityService/Store/IdentityStore.swift', [1, 3])
db = sqlite3.connect(':memory:'); db.executescript(v1)
people = []; programs = []
for org in range(20):
    o = b(); p = b(); programs.append((o, p))
    db.execute("INSERT INTO organisations VALUES (?, ?, ?, 0)", (o, f"org{org}", f"org{org}"))
    for i in range(10_000):
        person = b(); people.append(person)
        db.execute("INSERT INTO participations (id, org_id, program_id, person_id, role, profile, version, updated_at) VALUES (?, ?, ?, ?, ?, x'00', 1, 0)",
                   (b(), o, p, person, random.choice(["mentor", "mentee"])))
sql = "SELECT DISTINCT role FROM participations WHERE person_id = ?"
sample = [(random.choice(people),) for _ in range(50)]
# A page of a program's participants (without the join to people, which is the same either way).
page = "SELECT x.id, x.role, x.profile FROM participations x WHERE x.org_id = ? AND x.program_id = ? AND x.id > ? ORDER BY x.id LIMIT 101"
pages = [(o, p, bytes(16)) for o, p in programs[:10]]
before, page_before = timed(db, sql, sample), timed(db, page, pages)
db.executescript(v3)
after, page_after = timed(db, sql, sample), timed(db, page, pages)
print(f"identity participationRoles (every sign-in and refresh), 200,000 participations: {before:.2f} ms -> {after:.4f} ms")
print(f"identity participants, a page of 100 of a 10,000-person program: {page_before:.2f} ms -> {page_after:.3f} ms")

# Feedback: one organisation, 5,000 active matches, 10 held meetings each, both people rating.
(f1,) = schema('Sources/FeedbackService/Store/FeedbackStore.swift', [1])
db = sqlite3.connect(':memory:'); db.executescript(f1)
o = b(); program = b(); matches = []
for m in range(5_000):
    match = b(); matches.append(match)
    db.execute("INSERT INTO matches (org_id, match_id, program_id, mentor_id, mentee_id, status, started_at) VALUES (?, ?, ?, ?, ?, 'active', 0)",
               (o, match, program, b(), b()))
    for k in range(10):
        meeting = b()
        db.execute("INSERT INTO meetings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'held')", (o, meeting, match, program, m, b(), b(), k * 86400.0, k * 86400.0 + 3600))
        for role in (0, 1):
            db.execute("""INSERT INTO session_feedback (org_id, meeting_id, person_id, match_id, program_id, pkey, mkey, role, dkey, month, rating, share_text, submitted_at)
                          VALUES (?, ?, ?, ?, ?, 0, ?, ?, 0, 0, ?, 0, 0)""", (o, meeting, b(), match, program, m, role, random.randint(1, 5)))
old = """SELECT f.rating FROM session_feedback f JOIN meetings t ON t.org_id = f.org_id AND t.meeting_id = f.meeting_id
         WHERE f.org_id = ? AND f.match_id = ? ORDER BY t.start DESC LIMIT 6"""
new = """SELECT f.rating FROM meetings t CROSS JOIN session_feedback f ON f.org_id = t.org_id AND f.meeting_id = t.meeting_id
         WHERE t.org_id = ? AND t.match_id = ? ORDER BY t.start DESC LIMIT 6"""
sample = [(o, random.choice(matches)) for _ in range(20)]
# The same ratings (a meeting's two ratings may come in either order).
assert all(sorted(db.execute(old, a).fetchall()) == sorted(db.execute(new, a).fetchall()) for a in sample)
before, after = timed(db, old, sample), timed(db, new, sample)
print(f"feedback recent ratings per match, 100,000 ratings: {before:.2f} ms -> {after:.4f} ms a match; "
      f"a 5,000-match health list {before * 5:.0f} s -> {after * 5:.2f} s")

# Matching: one organisation with 50,000 matches (and 50,000 of another), org-admin pages of 100.
m1, m3 = schema('Sources/MatchingService/Store/MatchingStore.swift', [1, 3])
db = sqlite3.connect(':memory:'); db.executescript(m1)
orgs = [b(), b()]; seq = 0
for i in range(100_000):
    seq += 1
    db.execute("INSERT INTO matches VALUES (?, ?, ?, ?, ?, 'active', NULL, ?, x'00')", (b(), orgs[i % 2], b(), b(), b(), seq))
sql = "SELECT seq, data FROM matches WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?"
sample = [(orgs[0], random.randint(0, 90_000), 100) for _ in range(20)]
before = timed(db, sql, sample)
db.executescript(m3)
after = timed(db, sql, sample)
print(f"matching ListMatches page of 100 without a program, 50,000 matches in the organisation: {before:.2f} ms -> {after:.3f} ms")
