#!/usr/bin/env python3
"""Benchmark `setup list` in a large account: the same stacks with no other identity pool, and
with 1,000 other identity pools in the region (issue 23: "constant in round trips whatever the
account's size").

For each per-request delay (0 ms, and 100 ms to model a real region) it starts the project's
emulator (tests/emulator.py), applies --stacks stacks, then runs `setup list --output json`
--runs times in two accounts:

  empty           only the stacks' own pools;
  N other pools   --pools unrelated, untagged pools created in bulk
                  (POST /_setup/bulk-identity-pools), as in bench/scale.py.

Calls are counted at the emulator (its call log, per access key), round trips as the longest
chain of calls each of which starts after the one before was answered (bench/run.py). The
script fails when the two accounts differ in calls or round trips, or when a stack is missing.

    python3 bench/list.py [--runs 5] [--delays 0,100] [--pools 1000] [--stacks 3] [--out bench/list.md]

Uses target/release/setup, else target/debug/setup (the results say which).
"""

import argparse
import collections
import datetime
import json
import os
import platform
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  bench/run.py: emulator, runs, user pool, config
from scale import ACCOUNT, must, post  # noqa: E402

ROOT = bench.ROOT
REGION = bench.REGION


def measure(emu, binary: str, d: str, runs: int, stacks: list) -> list:
    out = []
    for _ in range(runs):
        r = must(bench.run(emu, [binary, "list", "--output", "json"], {}, d), "list")
        listed = {s["stack"] for s in json.loads(r["stdout"])}
        missing = set(stacks) - listed
        if missing:
            raise SystemExit(f"list did not find {sorted(missing)}:\n{r['stdout']}")
        out.append(r)
    return out


def summary(rs: list) -> dict:
    return bench.runs_summary(rs, ops=collections.Counter)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.scale_args(ap, "list.md")
    ap.add_argument("--stacks", type=int, default=3, help="stacks applied in the region")
    args = ap.parse_args()
    binary = bench.setup_binary(args.binary)
    build = "release" if os.sep + "release" + os.sep in binary else "debug"
    delays = [int(x) for x in args.delays.split(",")]
    n = args.pools
    accounts = ["empty", f"{n:,} other pools"]

    lines = []
    say = lambda s="": (print(s, flush=True), lines.append(s))  # noqa: E731
    say(f"`setup list` benchmark {datetime.date.today().isoformat()} on "
        f"{platform.node() or 'this machine'}: {os.cpu_count()} cores, {platform.machine()}, "
        f"Linux {platform.release()}; {build} binary; {args.runs} runs per cell, medians; "
        f"{args.stacks} stacks; emulator: moto via tests/emulator.py.")
    say(f"Command: `python3 bench/list.py --runs {args.runs} --delays {args.delays} "
        f"--pools {n} --stacks {args.stacks}`")
    say()
    say("The round trips: one `GetResources` page (100 tagged resources a page: every stack's "
        "table and pool), then at once `DescribeTable`, `DescribeIdentityPool` and "
        "`GetIdentityPoolRoles` for every stack, then `GetRole` for the pools' roles. Nothing "
        "lists the account's identity pools, tables or roles, so the other pools cost nothing.")
    say()
    failures = []
    for delay in delays:
        emu = bench.Emulator(delay)
        try:
            pool, client = bench.user_pool(emu)
            stacks = [f"list-{delay}-{i}" for i in range(args.stacks)]
            dirs = []
            for name in stacks:
                d = tempfile.mkdtemp(prefix="bench-list-")
                bench.write_config(d, name, pool, client)
                must(bench.run(emu, [binary, "apply"], {}, d), f"apply {name}")
                dirs.append(d)
            results = {accounts[0]: measure(emu, binary, dirs[0], args.runs, stacks)}
            created = post(emu, "/_setup/bulk-identity-pools",
                           {"count": n, "prefix": "other", "region": REGION, "account": ACCOUNT})
            assert created == {"created": n}, created
            results[accounts[1]] = measure(emu, binary, dirs[0], args.runs, stacks)
        finally:
            emu.stop()
        s = {a: summary(results[a]) for a in accounts}
        say(f"### {delay} ms per request")
        say()
        say("| account | `setup list` | calls | of them | round trips |")
        say("|---|---|---|---|---|")
        for a in accounts:
            ops = ", ".join(f"{op} {k}" for op, k in sorted(s[a]["ops"].items()))
            rt = (f"{s[a]['min_round_trips']}–{s[a]['round_trips']}" if delay
                  else "– (no delay: every call ends before the next starts)")
            say(f"| {a} | {s[a]['wall']:.2f} s | {s[a]['calls']} | {ops} | {rt} |")
        say()
        same_calls = s[accounts[0]]["ops"] == s[accounts[1]]["ops"]
        same_trips = (s[accounts[0]]["round_trips"], s[accounts[0]]["min_round_trips"]) == \
            (s[accounts[1]]["round_trips"], s[accounts[1]]["min_round_trips"])
        say(f"{accounts[1]} vs empty: the same calls: {'yes' if same_calls else 'NO'}"
            + (f"; the same round trips: {'yes' if same_trips else 'NO'}" if delay else "")
            + f"; time {s[accounts[1]]['wall'] / s[accounts[0]]['wall']:.2f}×.")
        say()
        if not same_calls or (delay and not same_trips):
            failures.append(delay)

    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nwritten to {os.path.relpath(args.out, ROOT)}")
    if failures:
        raise SystemExit(f"the calls of `setup list` grew with the account at {failures} ms")


if __name__ == "__main__":
    main()
