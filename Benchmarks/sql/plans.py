#!/usr/bin/env python3
"""Times the statements whose plans changed on 2026-11-28 (indexes and rewritten joins), old against
new, on the services' own schemas (read from their migrations) filled with synthetic rows, in the
system SQLite through Python's sqlite3 module. Run from the repository root:

    python3 Benchmarks/sql/plans.py

Each line: the statement's time before -> after, per call, on the same rows (the results are
checked equal where the statement changed).
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

# Matching: two organisations of 50,000 matches; people in one or two matches each.
db = sqlite3.connect(':memory:'); db.executescript(m1); db.executescript(m3)
orgs = [b(), b()]; seq = 0; members = []
for o in orgs:
    program = b(); mentors = [b() for _ in range(10_000)]
    for i in range(50_000):
        seq += 1; mentee = b()
        if o == orgs[0]: members.append(mentee)
        db.execute("INSERT INTO matches VALUES (?, ?, ?, ?, ?, ?, NULL, ?, randomblob(300))",
                   (b(), o, program, random.choice(mentors), mentee, random.choice(['active', 'proposed', 'ended', 'declined']), seq))
    if o == orgs[0]: members += mentors[:100]
old = "SELECT seq, data FROM matches WHERE org_id = ? AND seq > ? AND (mentor_id = ? OR mentee_id = ?) AND status IN (?, ?) ORDER BY seq LIMIT ?"
new = """SELECT seq, data FROM matches WHERE org_id = ?1 AND mentor_id = ?5 AND seq > ?2 AND status IN (?3, ?4)
         UNION ALL SELECT seq, data FROM matches WHERE org_id = ?1 AND mentee_id = ?5 AND mentor_id != ?5 AND seq > ?2 AND status IN (?3, ?4)
         ORDER BY seq LIMIT ?6"""
people = random.sample(members, 40)
old_args = [(orgs[0], 0, p, p, 'active', 'proposed', 101) for p in people]
new_args = [(orgs[0], 0, 'active', 'proposed', p, 101) for p in people]
assert all(db.execute(old, a).fetchall() == db.execute(new, n).fetchall() for a, n in zip(old_args, new_args))
print(f"matching ListMatches of a person (the dashboard), 50,000 matches in the organisation: {timed(db, old, old_args):.2f} ms -> {timed(db, new, new_args):.3f} ms")
old = "SELECT data FROM matches WHERE org_id = ? AND (mentor_id = ? OR mentee_id = ?)"
new = "SELECT data FROM matches WHERE org_id = ?1 AND mentor_id = ?2 UNION ALL SELECT data FROM matches WHERE org_id = ?1 AND mentee_id = ?2 AND mentor_id != ?2"
print(f"matching an erased person's matches: {timed(db, old, [(orgs[0], p, p) for p in people]):.2f} ms -> {timed(db, new, [(orgs[0], p) for p in people]):.3f} ms")

# Feedback: the dashboard's due surveys read the person's matches; 50,000 in the organisation.
db = sqlite3.connect(':memory:'); db.executescript(f1)
o = b(); program = b(); members = []; mentors = [b() for _ in range(10_000)]
for i in range(50_000):
    mentee = b(); members.append(mentee)
    db.execute("INSERT INTO matches (org_id, match_id, program_id, mentor_id, mentee_id, status, started_at) VALUES (?, ?, ?, ?, ?, 'active', 0)",
               (o, b(), program, random.choice(mentors), mentee))
people = random.sample(members + mentors[:100], 40)
old = "SELECT match_id, status FROM matches WHERE org_id = ? AND (mentor_id = ? OR mentee_id = ?)"
new = "SELECT match_id, status FROM matches WHERE org_id = ?1 AND mentor_id = ?2 UNION ALL SELECT match_id, status FROM matches WHERE org_id = ?1 AND mentee_id = ?2 AND mentor_id != ?2"
assert all(sorted(db.execute(old, (o, p, p)).fetchall()) == sorted(db.execute(new, (o, p)).fetchall()) for p in people)
print(f"feedback a person's matches (the dashboard's due surveys), 50,000 in the organisation: {timed(db, old, [(o, p, p) for p in people]):.2f} ms -> {timed(db, new, [(o, p) for p in people]):.3f} ms")

# Scheduling: 2,000 pairs with a 52-week series each (104,000 upcoming meetings); CancelSeries from now.
s1, s2, s4 = schema('Sources/SchedulingService/Store/SchedulingStore.swift', [1, 2, 4])
db = sqlite3.connect(':memory:'); db.executescript(s1); db.executescript(s2); db.executescript(s4)
o = b(); now = 1_800_000_000; series = []
for pair in range(2_000):
    sid = b(); series.append(sid); match = b()
    for k in range(52):
        start = now + 3600 + pair * 60 + k * 7 * 86400
        db.execute("""INSERT INTO meetings (id, org_id, match_id, program_id, mentor_id, mentee_id, start, end, time_zone, status, video_url, series_id, occurrence,
                      original_start, sequence, version, created_at, updated_at, inc_mentor, inc_mentee, scheduled_at, change_seq)
                      VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'UTC', 'scheduled', '', ?, ?, ?, 0, 1, 0, 0, 0, 0, 0, ?)""",
                   (b(), o, match, b(), b(), b(), start, start + 1800, sid, k, start, pair * 52 + k))
old = "SELECT id, start FROM meetings WHERE series_id = ? AND org_id = ? AND status = 'scheduled' AND start >= ?"
new = "SELECT id, start FROM meetings INDEXED BY meetings_by_series WHERE series_id = ? AND org_id = ? AND status = 'scheduled' AND start >= ?"
sample = [(random.choice(series), o, now) for _ in range(10)]
assert all(sorted(db.execute(old, a).fetchall()) == sorted(db.execute(new, a).fetchall()) for a in sample)
print(f"scheduling CancelSeries' occurrences (in the write transaction), 104,000 upcoming meetings: {timed(db, old, sample):.1f} ms -> {timed(db, new, sample):.3f} ms")

# Identity: ListPeople by division and by skill, before and after migration 4's indexes.
(v2, v4) = schema('Sources/IdentityService/Store/IdentityStore.swift', [2, 4])
person_columns = "people.id, people.name, people.email, people.division"
division = f"SELECT {person_columns} FROM people WHERE people.org_id = ? AND people.erased = 0 AND people.active = 1 AND people.division = ? COLLATE NOCASE ORDER BY people.name, people.id LIMIT ?"
skill = f"""SELECT {person_columns} FROM people WHERE people.org_id = ? AND people.erased = 0 AND people.active = 1
            AND EXISTS (SELECT 1 FROM participation_skills s WHERE s.person_id = people.id AND s.org_id = people.org_id AND s.kind = 'offered' AND s.skill = ?)
            ORDER BY people.name, people.id LIMIT ?"""
db = sqlite3.connect(':memory:')
for part in (v1, v2, v3): db.executescript(part)
o = b(); program = b(); ids = []
db.execute("INSERT INTO organisations VALUES (?, 'o', 'o', 0)", (o,))
for i in range(20_000):
    pid = b(); ids.append(pid)
    db.execute("""INSERT INTO people (id, org_id, email, name, division, job_title, seniority, time_zone, working_hours, languages, version, updated_at)
                  VALUES (?, ?, ?, ?, ?, '', 1, 'UTC', x'00', '', 1, 0)""", (pid, o, f'p{i}@x', f'name {random.random()}', 'Legal' if i % 400 == 0 else f'Division {i % 20}'))
skills = [f'skill{k}' for k in range(30)]
for pid in random.sample(ids, 8_000):
    part = b()
    db.execute("INSERT INTO participations (id, org_id, program_id, person_id, role, profile, version, updated_at) VALUES (?, ?, ?, ?, 'mentor', x'00', 1, 0)", (part, o, program, pid))
    for name in random.sample(skills, 3):
        db.execute("INSERT INTO participation_skills VALUES (?, ?, ?, 'offered', ?, 3)", (part, o, pid, name))
rows = [db.execute(division, (o, 'legal', 51)).fetchall(), db.execute(skill, (o, 'skill5', 51)).fetchall()]
before = timed(db, division, [(o, 'legal', 51)] * 5), timed(db, skill, [(o, 'skill5', 51)] * 3)
db.executescript(v4)
assert rows == [db.execute(division, (o, 'legal', 51)).fetchall(), db.execute(skill, (o, 'skill5', 51)).fetchall()]
after = timed(db, division, [(o, 'legal', 51)] * 5), timed(db, skill, [(o, 'skill5', 51)] * 5)
print(f"identity ListPeople of a 50-person division ('legal' for 'Legal'), 20,000 people: {before[0]:.1f} ms -> {after[0]:.3f} ms")
print(f"identity ListPeople by a skill ~800 of 20,000 offer, first page of 50: {before[1]:.0f} ms -> {after[1]:.2f} ms")
