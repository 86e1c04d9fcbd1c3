#!/usr/bin/env python3
"""What `setup` costs to build and to run: cold release build, binary size, peak memory.

For each source tree given (a checkout of a commit, e.g. made by `git worktree add`), builds the
release binary from cold (an empty target directory, the crates already downloaded, like a CI
cache of ~/.cargo/registry) and records:

- the wall time and the CPU time (user + system) of `cargo build --release --locked`;
- the number of crates compiled, and `cargo tree -d` (crates present in two versions);
- the size of the binary (LTO, stripped: the release profile in Cargo.toml);
- the peak memory (max RSS, by GNU time) of `setup status` on an applied stack (in sync: exit
  0), median of --runs runs, against the project's emulator (loopback only).

    python3 bench/build_cost.py --tree before=/tmp/wt-before --tree after=. [--runs 5]
                                [--out bench/build_cost.md] [--skip-build]

The build takes 7-10 minutes per tree on 2 cores; run it on an idle machine, one tree after the
other (the script never builds two at once). With --skip-build the existing binary in
<tree>/target-bench/release is measured.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Emulator, REGION, fresh_key, peak_rss_mb, user_pool, write_config  # noqa: E402


def cold_build(tree: str, target: str) -> dict:
    """Builds the release binary into an empty target directory; wall and CPU time."""
    subprocess.check_call(["rm", "-rf", target])
    env = dict(os.environ, CARGO_TARGET_DIR=target, CARGO_TERM_COLOR="never")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    out = subprocess.run(["cargo", "build", "--release", "--locked"], cwd=tree, env=env,
                         stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"build of {tree} failed:\n{out.stderr[-3000:]}")
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "compiled": out.stderr.count("Compiling "),
    }


def duplicates(tree: str) -> list:
    out = subprocess.run(["cargo", "tree", "-d", "-e", "normal", "--locked"], cwd=tree,
                         capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if line[:1].isalpha()]


def status_rss(binary: str, runs: int) -> float:
    emu = Emulator(0)
    try:
        pool, client = user_pool(emu)
        d = tempfile.mkdtemp(prefix="bench-cost-")
        write_config(d, f"cost{emu.port}", pool, client)
        env = {"PATH": os.environ["PATH"], "HOME": d, "AWS_ACCESS_KEY_ID": fresh_key(),
               "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": REGION,
               "AWS_ENDPOINT_URL": emu.endpoint, "AWS_EC2_METADATA_DISABLED": "true",
               "NO_COLOR": "1"}
        subprocess.run([binary, "apply"], env=env, cwd=d, check=True, capture_output=True)
        subprocess.run([binary, "status"], env=env, cwd=d, check=True, capture_output=True)
        return statistics.median(peak_rss_mb([binary, "status"], env, d) for _ in range(runs))
    finally:
        emu.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tree", action="append", required=True, metavar="NAME=PATH")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--skip-build", action="store_true")
    p.add_argument("--out", default=None)
    args = p.parse_args()

    rows = []
    for spec in args.tree:
        name, _, tree = spec.partition("=")
        tree = os.path.abspath(tree)
        target = os.path.join(tree, "target-bench")
        build = None if args.skip_build else cold_build(tree, target)
        binary = os.path.join(target, "release", "setup")
        rows.append({
            "name": name,
            "build": build,
            "size": os.path.getsize(binary) / (1024 * 1024),
            "rss": status_rss(binary, args.runs),
            "dups": duplicates(tree),
        })
        print(f"{name}: done", file=sys.stderr)

    lines = ["| tree | cold release build (wall) | CPU time | crates compiled | binary | "
             "peak RSS of `status` |", "|---|---|---|---|---|---|"]
    for r in rows:
        b = r["build"]
        wall = f"{b['wall'] / 60:.1f} min" if b else "-"
        cpu = f"{b['cpu'] / 60:.1f} min" if b else "-"
        n = str(b["compiled"]) if b else "-"
        lines.append(f"| {r['name']} | {wall} | {cpu} | {n} | {r['size']:.1f} MB | "
                     f"{r['rss']:.1f} MB |")
    lines.append("")
    for r in rows:
        lines.append(f"- {r['name']}: crates in two versions (`cargo tree -d`): "
                     + (", ".join(r["dups"]) or "none"))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
