#!/usr/bin/env python3
"""Side by side: Apprise, a popular Python notifier library, posting one message to N
Mastodon accounts on the same fake servers the fan-out benchmark uses (20 fake Mastodon
servers on loopback, each answering every request after 100 ms).

The fake servers are the fan-out bench's own (`--fakes-child`), so both sides talk to
the same wire format at the same latency. The clock runs around `Apprise.notify()` only:
Apprise records nothing durably, takes no approval and keeps no audit trail, so the
comparison is generous to it. Afterwards the fakes are asked how many posts they took.

    python3 -m pip install apprise
    python3 scripts/compare_apprise.py [--accounts 1000] [--runs 3] [--latency-ms 100]

FAKES_CMD overrides the command that starts the fakes (default: cargo bench, which
builds the bench binary first).
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit

try:
    import apprise
except ImportError:
    sys.exit("compare_apprise: needs Apprise (python3 -m pip install apprise)")


def start_fakes(servers, latency_ms):
    """Starts the fake Mastodon servers; returns the process and their endpoints."""
    args = ["--fakes-child", "--servers", str(servers), "--latency-ms", str(latency_ms)]
    base = os.environ.get("FAKES_CMD")
    if base:
        cmd = shlex.split(base) + args
    else:
        cmd = ["cargo", "bench", "-p", "tocsin-dispatch", "--bench", "fanout", "--"] + args
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    endpoints = []
    for line in proc.stdout:
        line = line.strip()
        if line == "ready":
            return proc, endpoints
        endpoints.append(json.loads(line))
    sys.exit("compare_apprise: the fake servers did not start")


def posts(proc):
    """How many posts the fakes have taken so far."""
    proc.stdin.write("posts\n")
    proc.stdin.flush()
    return int(proc.stdout.readline().strip())


def apprise_url(endpoint):
    """The Apprise URL of a Mastodon account on a fake server (plain HTTP on loopback)."""
    base = urlsplit(endpoint["settings"]["base_url"])
    return f"mastodon://{endpoint['secret']}@{base.hostname}:{base.port}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()

    proc, endpoints = start_fakes(args.servers, args.latency_ms)
    try:
        urls = [apprise_url(endpoints[i % len(endpoints)]) for i in range(args.accounts)]
        times = []
        for run in range(args.runs):
            notifier = apprise.Apprise()
            for url in urls:
                if not notifier.add(url):
                    sys.exit(f"compare_apprise: Apprise refused {url}")
            before = posts(proc)
            started = time.perf_counter()
            ok = notifier.notify(body=f"Boil-water advisory, run {run}: boil tap water.")
            elapsed = time.perf_counter() - started
            taken = posts(proc) - before
            print(
                f"run {run}: {args.accounts} accounts in {elapsed:.3f} s "
                f"(all reported sent: {bool(ok)}; posts the fakes took: {taken})"
            )
            if taken != args.accounts:
                sys.exit(f"compare_apprise: {taken} posts, not {args.accounts}")
            times.append(elapsed)
        print(
            f"apprise {apprise.__version__}: accounts={args.accounts} "
            f"servers={len(endpoints)} latency={args.latency_ms}ms runs={args.runs}: "
            f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, "
            f"max {max(times):.3f} s"
        )
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
