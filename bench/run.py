#!/usr/bin/env python3
"""Benchmark `setup` against the way it is scripted today (bench/baseline.sh, AWS CLI calls).

Starts the project's emulator (tests/emulator.py) with an injected per-request delay — 0 ms, and
100 ms to model a real region — and measures, over several runs, the median wall time of a fresh
apply, a no-op apply, status and teardown, for `setup` and for the AWS CLI script. API calls are
counted at the emulator (per access key), not reported by the tools themselves. Also measures
`setup`'s start-up time to its first request, its peak memory, the release binary's size, and 20
stacks applied concurrently (20 processes against one emulator).

    python3 bench/run.py [--runs 5] [--delays 0,100] [--stacks 20] [--out bench/results.md]

Needs a release build (`cargo build --release`); installs the AWS CLI (bench/requirements.txt)
into target/bench-venv when missing. Everything runs on loopback.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
WRITE_PREFIXES = ("Create", "Update", "Delete", "Put", "Set", "Tag", "Untag", "Attach", "Detach")
COMMANDS = ["fresh apply", "no-op apply", "status", "teardown"]


# ---------------------------------------------------------------------------- emulator

_tools_checked = False


def ensure_emulator_tools():
    """Installs the emulator and its IAM simulator when missing (tests/install-tools.sh), once."""
    global _tools_checked
    if not _tools_checked:
        subprocess.check_call(["bash", os.path.join(ROOT, "tests", "install-tools.sh"), "--emulator"])
        _tools_checked = True


class Emulator:
    def __init__(self, delay_ms: int, extra_args=()):
        ensure_emulator_tools()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "emulator.py"), "--port", "0",
             "--delay-ms", str(delay_ms), *extra_args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"emulator did not start: {line!r}")
        self.port = int(line.split()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def calls(self, key: str) -> list:
        with urllib.request.urlopen(f"{self.endpoint}/_setup/calls?key={key}") as r:
            return json.load(r)

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def round_trips(calls: list) -> int:
    """Longest chain of calls in which each starts after the previous one was answered."""
    calls = sorted(calls, key=lambda c: c["t"])
    depth = [1] * len(calls)
    for i, c in enumerate(calls):
        for j in range(i):
            if calls[j]["t_end"] is not None and calls[j]["t_end"] <= c["t"]:
                depth[i] = max(depth[i], depth[j] + 1)
    return max(depth, default=0)


# ---------------------------------------------------------------------------- runs

_keys = iter(range(10**9))


def fresh_key() -> str:
    return f"AKIDBENCH{os.getpid()}X{next(_keys)}"


def run(emu: Emulator, argv: list, env_extra: dict, cwd: str) -> dict:
    """Runs one command with its own access key; returns timing, exit code, calls, peak RSS."""
    key = fresh_key()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": cwd,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": emu.endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.path.join(cwd, "none"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(cwd, "none"),
        "NO_COLOR": "1",
        **env_extra,
    }
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.monotonic() - start
    calls = emu.calls(key)
    first = min((c["t"] for c in calls), default=None)
    return {
        "wall": wall,
        "code": proc.returncode,
        "stdout": out.decode(errors="replace"),
        "stderr": err.decode(errors="replace"),
        "calls": calls,
        "ops": [c["operation"] for c in calls],
        "writes": [c["operation"] for c in calls if c["operation"].startswith(WRITE_PREFIXES)],
        "round_trips": round_trips(calls),
        "startup": (first - start) if first is not None else None,
    }


def peak_rss_mb(argv: list, env: dict, cwd: str) -> float:
    """The peak memory (max RSS) of one run of `argv`, measured by GNU time.

    Not by this script's own rusage: a child forked from Python keeps, across exec, the peak of
    the Python process it was forked from (Linux carries ru_maxrss over exec), so every command
    would seem to need the ~47 MB this script holds with boto3 loaded.
    """
    if not os.path.exists("/usr/bin/time"):
        raise SystemExit("measuring memory needs GNU time (/usr/bin/time; Debian/Ubuntu: apt install time)")
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, cwd=cwd, env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024.0  # KiB


def user_pool(emu: Emulator):
    import boto3  # comes with moto
    idp = boto3.client("cognito-idp", endpoint_url=emu.endpoint, region_name=REGION,
                       aws_access_key_id=fresh_key(), aws_secret_access_key="x")
    pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="app")["UserPoolClient"]["ClientId"]
    return pool, client


def write_config(dirname: str, stack: str, pool: str, client: str):
    with open(os.path.join(dirname, "setup.toml"), "w") as f:
        f.write(f'stack = "{stack}"\n\n[table]\nname = "{stack}-profiles"\n\n'
                f'[user_pool]\nid = "{pool}"\nclient_ids = ["{client}"]\n')


def lifecycle(emu, tool, stack, pool, client, binary, aws_cli):
    """Fresh apply, no-op apply, status, teardown of one stack with one tool."""
    d = tempfile.mkdtemp(prefix=f"bench-{stack}-")
    write_config(d, stack, pool, client)
    if tool == "setup":
        steps = [["apply"], ["apply"], ["status"], ["teardown", "--delete-table", "--yes"]]
        cmds = [[binary] + s for s in steps]
        extra = {}
    else:
        cmds = [["bash", os.path.join(ROOT, "bench", "baseline.sh"), c]
                for c in ["apply", "apply", "status", "teardown"]]
        extra = {"AWS_CLI": aws_cli, "STACK": stack, "TABLE": f"{stack}-profiles",
                 "USER_POOL_ID": pool, "CLIENT_ID": client}
    results = {}
    for name, argv in zip(COMMANDS, cmds):
        r = run(emu, argv, extra, d)
        if r["code"] != 0:
            raise SystemExit(f"{tool} {name} failed ({r['code']}):\n{r['stdout']}\n{r['stderr']}")
        results[name] = r
    return results


def ensure_aws_cli() -> str:
    venv = os.path.join(ROOT, "target", "bench-venv")
    aws = os.path.join(venv, "bin", "aws")
    if not os.path.exists(aws):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([os.path.join(venv, "bin", "pip"), "install", "--quiet",
                               "-r", os.path.join(ROOT, "bench", "requirements.txt")])
    return aws


def scale(emu, binary, pool, client, n):
    """n stacks applied at once (n processes); returns total wall time and the single-stack time."""
    dirs = []
    for i in range(n):
        d = tempfile.mkdtemp(prefix="bench-scale-")
        write_config(d, f"scale{emu.port}-{i}", pool, client)
        dirs.append(d)
    single_dir = tempfile.mkdtemp(prefix="bench-single-")
    write_config(single_dir, f"single{emu.port}", pool, client)
    single = run(emu, [binary, "apply"], {}, single_dir)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as ex:
        results = list(ex.map(lambda d: run(emu, [binary, "apply"], {}, d), dirs))
    total = time.monotonic() - start
    failed = [r for r in results if r["code"] != 0]
    statuses = [run(emu, [binary, "status"], {}, d)["code"] for d in dirs]
    for d in dirs + [single_dir]:
        run(emu, [binary, "teardown", "--delete-table", "--yes"], {}, d)
    return {"single": single["wall"], "total": total, "failed": len(failed),
            "in_sync": sum(1 for c in statuses if c == 0), "n": n}


# ---------------------------------------------------------------------------- report

def scale_args(ap, out_name: str):
    """The options `list.py` and `scale.py` share: runs, delays, other pools, binary, out."""
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--delays", default="0,100")
    ap.add_argument("--pools", type=int, default=1000, help="other identity pools in the region")
    ap.add_argument("--binary", default=None,
                    help="default: target/release/setup, else target/debug/setup")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", out_name))


def setup_binary(given):
    """The setup binary to measure: `given`, else target/release/setup, else target/debug/setup."""
    if given is not None:
        return given
    for profile in ("release", "debug"):
        candidate = os.path.join(ROOT, "target", profile, "setup")
        if os.path.exists(candidate):
            return candidate
    raise SystemExit("no setup binary: run `cargo build --release` first")


def runs_summary(rs: list, **extra) -> dict:
    """Medians and bounds over runs of one command (`list.py`, `scale.py`), with `extra` fields
    computed from the last run's operations (`extra[name](ops)`)."""
    last = rs[-1]
    out = {
        "wall": med([r["wall"] for r in rs]),
        "calls": len(last["ops"]),
        "round_trips": max(r["round_trips"] for r in rs),
        "min_round_trips": min(r["round_trips"] for r in rs),
    }
    out.update({name: f(last["ops"]) for name, f in extra.items()})
    return out


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--delays", default="0,100")
    ap.add_argument("--stacks", type=int, default=20)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "setup"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.md"))
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        raise SystemExit(f"{args.binary} not found: run `cargo build --release` first")
    aws_cli = ensure_aws_cli()
    delays = [int(x) for x in args.delays.split(",")]

    lines = []
    say = lambda s="": (print(s, flush=True), lines.append(s))
    say(f"Benchmark run {datetime.date.today().isoformat()} on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}; "
        f"{args.runs} runs per cell, medians; emulator: moto 5.2.5 via tests/emulator.py.")
    say(f"Command: `python3 bench/run.py --runs {args.runs} --delays {args.delays} --stacks {args.stacks}`")
    say()

    startup, counts = [], {}
    for delay in delays:
        emu = Emulator(delay)
        try:
            pool, client = user_pool(emu)
            per = {"setup": {c: [] for c in COMMANDS}, "aws-cli": {c: [] for c in COMMANDS}}
            for i in range(args.runs):
                for tool in ["setup", "aws-cli"]:
                    res = lifecycle(emu, tool, f"b{delay}-{tool[:3]}-{i}", pool, client,
                                    args.binary, aws_cli)
                    for c in COMMANDS:
                        per[tool][c].append(res[c])
                        if tool == "setup" and res[c]["startup"] is not None:
                            startup.append(res[c]["startup"])
            say(f"### {delay} ms per request")
            say()
            say("| command | setup | AWS CLI script | speed-up | setup calls (writes) | CLI calls (writes) | setup round trips |")
            say("|---|---|---|---|---|---|---|")
            for c in COMMANDS:
                s = med([r["wall"] for r in per["setup"][c]])
                b = med([r["wall"] for r in per["aws-cli"][c]])
                sr = per["setup"][c][-1]
                br = per["aws-cli"][c][-1]
                say(f"| {c} | {s * 1000:.0f} ms | {b * 1000:.0f} ms | {b / s:.1f}× | "
                    f"{len(sr['ops'])} ({len(sr['writes'])}) | {len(br['ops'])} ({len(br['writes'])}) | "
                    f"{sr['round_trips']} |")
                counts.setdefault(c, sr["ops"])
            say()
            sc = scale(emu, args.binary, pool, client, args.stacks)
            say(f"{sc['n']} stacks applied concurrently ({sc['n']} processes, one emulator): "
                f"{sc['total'] * 1000:.0f} ms in all vs {sc['single'] * 1000:.0f} ms for one stack; "
                f"{sc['n'] - sc['failed']}/{sc['n']} applies succeeded, {sc['in_sync']}/{sc['n']} "
                f"stacks in sync afterwards.")
            say()
        finally:
            emu.stop()

    # Start-up, memory and size, measured once.
    emu = Emulator(0)
    try:
        pool, client = user_pool(emu)
        d = tempfile.mkdtemp(prefix="bench-mem-")
        write_config(d, "memory", pool, client)
        env = {"PATH": os.environ["PATH"], "HOME": d, "AWS_ACCESS_KEY_ID": fresh_key(),
               "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": REGION, "AWS_ENDPOINT_URL": emu.endpoint,
               "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1"}
        rss = [peak_rss_mb([args.binary] + a, env, d)
               for a in (["apply"], ["apply"], ["status"], ["teardown", "--delete-table", "--yes"])]
    finally:
        emu.stop()
    size = os.path.getsize(args.binary)
    say("### Start-up, memory, size")
    say()
    say(f"- start-up to first request (process spawn → first request at the emulator): "
        f"median {med(startup) * 1000:.1f} ms, max {max(startup) * 1000:.1f} ms over {len(startup)} runs")
    say(f"- peak memory (max RSS) of apply / no-op apply / status / teardown: "
        + " / ".join(f"{x:.1f}" for x in rss) + " MB")
    say(f"- release binary (LTO, stripped): {size / 1e6:.1f} MB ({size:,} bytes)")
    say()
    say("API calls per command (setup, 0 ms run):")
    say()
    for c in COMMANDS:
        ops = counts.get(c, [])
        by = {}
        for o in ops:
            by[o] = by.get(o, 0) + 1
        say(f"- {c}: " + ", ".join(f"{k}×{v}" if v > 1 else k for k, v in sorted(by.items())))

    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nwritten to {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
