#!/usr/bin/env python3
"""Summarises a TANDEM_SQL_PLAN_LOG file: each distinct statement that read a whole table or sorted,
with its plans, leaving out tables that stay small and the test suite's own scratch tables.

    TANDEM_SQL_PLAN_LOG=/tmp/plans.log swift test
    python3 Benchmarks/sql/plan-log.py /tmp/plans.log
"""
import re, sys

# Tables that stay small (per organisation or in all), and the store tests' own.
SMALL = {"organisations", "programs", "service_accounts", "api_keys", "signing_keys", "schema_migrations", "settings",
         "feed_cursors", "synced_programs", "items", "t", "v"}

def tables(plan_lines):
    return {m.group(1) for line in plan_lines for m in [re.match(r"(?:SCAN|SEARCH) (\w+)", line)] if m}

statements = {}
for block in re.split(r"^SQL: ", open(sys.argv[1]).read(), flags=re.M)[1:]:
    lines = block.rstrip("\n").split("\n")
    sql = re.sub(r"\s+", " ", lines[0]).strip()
    plan = tuple(line.strip() for line in lines[1:])
    statements.setdefault(sql, set()).add(plan)
shown = 0
for sql, plans in sorted(statements.items()):
    if all(tables(plan) <= SMALL for plan in plans):
        continue
    shown += 1
    print("SQL:", sql)
    for plan in plans:
        print("    " + " | ".join(plan))

print(f"{shown} statement(s) read a whole table or sort, outside the small tables")
