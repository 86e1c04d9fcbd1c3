#!/usr/bin/env python3
"""How soon `setup` notices that what it waits for is ready (realistic mode).

Starts the emulator in realistic mode (tests/emu/realistic.py) with known windows, runs
apply → verify → teardown --delete-table on fresh stacks, and reads from the emulator's call log,
for each wait, when the resource became ready (the write's arrival + the window) and when the
tool's next call of the kind that succeeds arrived. The difference is the wait's lag: how long the
tool kept waiting after it need not have. The target is "within about a second".

    python3 bench/waits.py [--runs 5] [--binary target/release/setup] [--out bench/waits.md]

Everything runs on loopback.
"""

import argparse
import importlib.util
import os
import statistics
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("bench_run", os.path.join(ROOT, "bench", "run.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

WINDOWS = {
    "table_invisible": 1.0, "table_creating": 3.0, "table_updating": 2.0, "table_deleting": 3.0,
    "pitr_unavailable": 4.0, "pitr_enabling": 1.0, "tags_lag": 1.5, "iam_delete_conflict": 2.5,
    "iam_propagation": 3.0, "iam_concurrent": 1.0,
}


def realistic_emulator():
    """The emulator in realistic mode with the windows above."""
    spec = ",".join(f"{k}={v}" for k, v in WINDOWS.items())
    return bench.Emulator(0, ["--realistic", spec])


def first(calls, op, after=None):
    for c in calls:
        if c["operation"] == op and (after is None or c["t"] >= after):
            return c
    return None


def lag(ready, calls, op):
    """Arrival of the first `op` at or after `ready`, minus `ready` (seconds)."""
    c = first(calls, op, ready)
    return None if c is None else c["t"] - ready


def measure(emu, binary, pool, client, i):
    d = tempfile.mkdtemp(prefix="bench-waits-")
    stack = f"waits{emu.port}-{i}"
    bench.write_config(d, stack, pool, client)
    out = {}
    apply = bench.run(emu, [binary, "apply"], {}, d)
    if apply["code"] != 0:
        raise SystemExit(f"apply failed:\n{apply['stdout']}\n{apply['stderr']}")
    calls = apply["calls"]
    create = first(calls, "CreateTable")
    out["table CREATING → ACTIVE"] = lag(
        create["t"] + max(WINDOWS["table_creating"], WINDOWS["table_invisible"]), calls, "DescribeTable")
    out["backups unavailable → PITR enabled"] = lag(
        create["t"] + WINDOWS["pitr_unavailable"], calls, "UpdateContinuousBackups")

    teardown = bench.run(emu, [binary, "teardown", "--delete-table", "--yes"], {}, d)
    if teardown["code"] != 0:
        raise SystemExit(f"teardown failed:\n{teardown['stdout']}\n{teardown['stderr']}")
    calls = teardown["calls"]
    detach = first(calls, "DetachRolePolicy")
    out["DeleteConflict after detach → role deleted"] = lag(
        detach["t"] + WINDOWS["iam_delete_conflict"], calls, "DeleteRole")
    update = first(calls, "UpdateTable")
    if update is not None:
        out["UPDATING → DeleteTable accepted"] = lag(
            update["t"] + WINDOWS["table_updating"], calls, "DeleteTable")
    delete = first(calls, "DeleteTable", update["t"] + WINDOWS["table_updating"] if update else None)
    out["DELETING → gone"] = lag(delete["t"] + WINDOWS["table_deleting"], calls, "DescribeTable")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "setup"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "waits.md"))
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    emu = realistic_emulator()
    try:
        pool, client = bench.user_pool(emu)
        rows = {}
        for i in range(args.runs):
            for name, value in measure(emu, args.binary, pool, client, i).items():
                rows.setdefault(name, []).append(value)
    finally:
        emu.stop()
    lines = [
        "# Wait lag in realistic mode",
        "",
        f"`python3 bench/waits.py --runs {args.runs}`: how long after the resource was ready the "
        "tool's next successful call arrived (median and worst of the runs). Windows: "
        + ", ".join(f"{k}={v}s" for k, v in WINDOWS.items()) + ".",
        "",
        "| wait | median lag | worst lag |",
        "|---|---|---|",
    ]
    for name, values in rows.items():
        vs = [v for v in values if v is not None]
        if not vs:
            lines.append(f"| {name} | not seen | |")
            continue
        lines.append(f"| {name} | {statistics.median(vs):.2f} s | {max(vs):.2f} s |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
