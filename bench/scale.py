#!/usr/bin/env python3
"""Benchmark `setup` in a large account: the same stack with no other identity pool, and with
1,000 other identity pools in its region (issue 12).

For each per-request delay (0 ms, and 100 ms to model a real region) it starts the project's
emulator (tests/emulator.py, which pages ListIdentityPools at 60 as AWS does and answers the
Resource Groups Tagging API for identity pools), applies one stack, then measures `status` and a
no-op `apply` (median wall time over --runs runs) in three accounts:

  empty                  only the stack's own pool;
  N other pools          --pools unrelated pools created in bulk (POST /_setup/bulk-identity-pools);
  N other pools, listing the same, with tag:GetResources denied (the emulator's "denied" fault), so
                         the tool falls back to listing every pool: what every run cost before.

A fresh apply (new stack each run, removed afterwards) is measured in each account too: it may
create a pool, so it always lists them. API calls are counted at the emulator (per access key).

    python3 bench/scale.py [--runs 5] [--delays 0,100] [--pools 1000] [--out bench/scale.md]

Uses target/release/setup, else target/debug/setup (the results say which). Everything runs on
loopback.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  bench/run.py: emulator, runs, user pool, config

ROOT = bench.ROOT
REGION = bench.REGION
ACCOUNT = "123456789012"
MEASURED = ["status", "no-op apply"]


def post(emu, path: str, body: dict) -> dict:
    req = urllib.request.Request(f"{emu.endpoint}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def must(r: dict, what: str) -> dict:
    if r["code"] != 0:
        raise SystemExit(f"{what} failed ({r['code']}):\n{r['stdout']}\n{r['stderr']}")
    return r


def measure(emu, binary: str, d: str, runs: int, pool: str, client: str, tag: str) -> dict:
    """status and no-op apply of the stack in `d`, plus fresh applies of new stacks."""
    out = {c: [] for c in MEASURED + ["fresh apply"]}
    for i in range(runs):
        out["status"].append(must(bench.run(emu, [binary, "status"], {}, d), "status"))
        out["no-op apply"].append(must(bench.run(emu, [binary, "apply"], {}, d), "no-op apply"))
        fresh = tempfile.mkdtemp(prefix="bench-scale-fresh-")
        bench.write_config(fresh, f"fresh-{emu.port}-{tag}-{i}", pool, client)
        out["fresh apply"].append(must(bench.run(emu, [binary, "apply"], {}, fresh), "fresh apply"))
        must(bench.run(emu, [binary, "teardown", "--delete-table", "--yes"], {}, fresh), "teardown")
    return out


def summary(rs: list) -> dict:
    return bench.runs_summary(rs, lists=lambda ops: ops.count("ListIdentityPools"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.scale_args(ap, "scale.md")
    args = ap.parse_args()
    binary = bench.setup_binary(args.binary)
    build = "release" if os.sep + "release" + os.sep in binary else "debug"
    delays = [int(x) for x in args.delays.split(",")]
    n = args.pools
    accounts = ["empty", f"{n:,} other pools", f"{n:,} other pools, listing"]

    lines = []
    say = lambda s="": (print(s, flush=True), lines.append(s))  # noqa: E731
    say(f"Scale benchmark {datetime.date.today().isoformat()} on "
        f"{platform.node() or 'this machine'}: {os.cpu_count()} cores, {platform.machine()}, "
        f"Linux {platform.release()}; {build} binary; "
        f"{args.runs} runs per cell, medians; emulator: moto 5.2.5 via tests/emulator.py, "
        f"ListIdentityPools paged at 60 as AWS does.")
    say(f"Command: `python3 bench/scale.py --runs {args.runs} --delays {args.delays} "
        f"--pools {n}`")
    say()
    if build == "debug":
        say("A debug build (no release build was at hand): at 100 ms per request the time is "
            "the requests' (round trips × 100 ms); at 0 ms a release build is faster.")
        say()
    say(f"\"{accounts[2]}\": the same account with `tag:GetResources` denied, so `setup` lists "
        f"every pool (`ListIdentityPools`, 60 a page): the fallback, and what every run cost "
        f"before the lookup by tag. A fresh `apply` may create a pool, so it lists every pool "
        f"in every account, twice: before creating, and after it to catch a pool another run "
        f"created at the same time.")
    say()
    for delay in delays:
        emu = bench.Emulator(delay)
        try:
            pool, client = bench.user_pool(emu)
            d = tempfile.mkdtemp(prefix="bench-scale-")
            bench.write_config(d, f"scale-{delay}", pool, client)
            must(bench.run(emu, [binary, "apply"], {}, d), "apply")
            results = {}
            results[accounts[0]] = measure(emu, binary, d, args.runs, pool, client, "e")
            created = post(emu, "/_setup/bulk-identity-pools",
                           {"count": n, "prefix": "other", "region": REGION, "account": ACCOUNT})
            assert created == {"created": n}, created
            results[accounts[1]] = measure(emu, binary, d, args.runs, pool, client, "l")
            post(emu, "/_setup/faults", {"key_prefix": "AKIDBENCH", "rate": 1.0,
                                         "kinds": ["denied"], "ops": ["GetResources"]})
            results[accounts[2]] = measure(emu, binary, d, args.runs, pool, client, "f")
            post(emu, "/_setup/faults", {"key_prefix": "AKIDBENCH", "rate": 0.0})
        finally:
            emu.stop()
        say(f"### {delay} ms per request")
        say()
        say("| account | `status` | no-op `apply` | fresh `apply` | calls: status / no-op / fresh "
            "(of them ListIdentityPools) | round trips: status / no-op |")
        say("|---|---|---|---|---|---|")
        for a in accounts:
            s = {c: summary(results[a][c]) for c in results[a]}
            say(f"| {a} | {s['status']['wall']:.2f} s | {s['no-op apply']['wall']:.2f} s | "
                f"{s['fresh apply']['wall']:.2f} s | "
                + " / ".join(f"{s[c]['calls']} ({s[c]['lists']})"
                             for c in ["status", "no-op apply", "fresh apply"])
                + " | " + (" / ".join(
                    f"{s[c]['min_round_trips']}–{s[c]['round_trips']}" for c in MEASURED)
                    if delay else "– (no delay: every call ends before the next starts)")
                + " |")
        empty = {c: summary(results[accounts[0]][c])["wall"] for c in MEASURED}
        large = {c: summary(results[accounts[1]][c])["wall"] for c in MEASURED}
        listing = {c: summary(results[accounts[2]][c])["wall"] for c in MEASURED}
        say()
        say(f"{accounts[1]} vs empty: " + ", ".join(
            f"{c} {large[c] / empty[c]:.2f}× (listing: {listing[c] / empty[c]:.2f}×)"
            for c in MEASURED) + ".")
        say()

    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nwritten to {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
