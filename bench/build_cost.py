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

    python3 bench/build_cost.py --tree before=/tmp/wt-before --tree now=. [--runs 5]
                                [--out bench/build_cost.md] [--skip-build] [--docs]

The build takes 7-10 minutes per tree on 2 cores; run it on an idle machine, one tree after the
other (the script never builds two at once). With --skip-build the existing binary in
<tree>/target-bench/release is measured.

Its output (a table, and each binary's exact size in bytes; 1 MB = 10^6 bytes) is printed and
recorded in --out (default bench/build_cost.md). With --docs it also rewrites the figures the
docs quote from it: every `<!-- build_cost TREE FIELD -->VALUE<!-- /build_cost -->` in README.md
and docs/performance.md (FIELD: wall, cpu, compiled, binary, rss) gets VALUE from this run's row
for TREE. tests/e2e/docs.rs checks that those figures equal the recorded output, so a figure
cannot be edited by hand or outlive the run that produced it.
"""

import argparse
import os
import re
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
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "build_cost.md"))
    p.add_argument("--docs", action="store_true",
                   help="rewrite the build_cost figures in README.md and docs/performance.md")
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
            "bytes": os.path.getsize(binary),
            "rss": status_rss(binary, args.runs),
            "dups": duplicates(tree),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree,
                                     capture_output=True, text=True).stdout.strip() or "?",
        })
        print(f"{name}: done", file=sys.stderr)

    lines = [f"Build cost, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; command: "
             f"`python3 bench/build_cost.py {' '.join(sys.argv[1:])}`", "",
             "| tree | cold release build (wall) | CPU time | crates compiled | binary | "
             "peak RSS of `status` |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join([r["name"]] + [cell(r, f) for f in FIELDS]) + " |")
    lines.append("")
    for r in rows:
        lines.append(f"- {r['name']} (commit {r['commit']}): binary {r['bytes']:,} bytes; crates "
                     "in two versions (`cargo tree -d`): " + (", ".join(r["dups"]) or "none"))
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    if args.docs:
        for doc in DOCS:
            write_figures(os.path.join(ROOT, doc), {r["name"]: r for r in rows})


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The columns after the tree's name, in order, by the name the docs' markers use.
FIELDS = ["wall", "cpu", "compiled", "binary", "rss"]
DOCS = ["README.md", os.path.join("docs", "performance.md")]
FIGURE = re.compile(r"<!-- build_cost (\S+) (\S+) -->(.*?)<!-- /build_cost -->")


def cell(r: dict, field: str) -> str:
    """One figure of a row, as the table shows it (1 MB = 10^6 bytes)."""
    b = r["build"]
    if field == "binary":
        return f"{r['bytes'] / 1e6:.1f} MB"
    if field == "rss":
        return f"{r['rss']:.1f} MB"
    if not b:
        return "-"
    return {"wall": f"{b['wall'] / 60:.1f} min", "cpu": f"{b['cpu'] / 60:.1f} min",
            "compiled": str(b["compiled"])}[field]


def write_figures(path: str, rows: dict) -> None:
    """Rewrites the figures of this run's trees in `path`; others are left as they are."""
    with open(path) as f:
        text = f.read()

    def figure(m):
        tree, field = m.group(1), m.group(2)
        if tree not in rows or field not in FIELDS:
            return m.group(0)
        return f"<!-- build_cost {tree} {field} -->{cell(rows[tree], field)}<!-- /build_cost -->"

    new = FIGURE.sub(figure, text)
    if new != text:
        with open(path, "w") as f:
            f.write(new)
        print(f"rewrote the build_cost figures in {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
