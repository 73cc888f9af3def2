#!/usr/bin/env python3
"""Where the status lag of a bench run goes, per object (docs/performance.md).

Run the bench with the operator's debug log and the lag dump:
  BENCH_LAG_DUMP=/tmp/lags.txt \
  BENCH_OPERATOR_LOG="warn,immybot_operator::controller=debug" \
  hack/bench.sh --workload many --size 1000 --immybot-rps 10000 --immybot-concurrency 64
then:
  hack/bench-lag-breakdown.py /tmp/lags.txt /tmp/immybot-bench-operator-<pid>.log
"""
import collections
import datetime
import re
import sys

FINAL = ("Succeeded", "Failed", "PartiallySucceeded", "Cancelled", "TimedOut")


def unix(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def pct(values, p):
    values = sorted(v for v in values if v is not None)
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 3) if values else None


def main(lag_dump, operator_log):
    events = collections.defaultdict(list)
    for line in open(operator_log):
        m = re.match(r"(\S+)\s+DEBUG \S+: (.*)", line)
        n = m and re.search(r'name="?([^" ]+)', m.group(2))
        if n:
            events[n.group(1)].append((unix(m.group(1)), m.group(2)))
    parts = collections.defaultdict(list)
    for line in open(lag_dump):
        name, ended, shown = line.split()
        ended, shown = float(ended), float(shown)
        writes = [
            (t, m) for t, m in events[name]
            if m.startswith("status written") and any(f"Some({p})" in m for p in FINAL)
        ]
        if not writes:
            continue
        done, message = writes[0]
        took = int(re.search(r"took_ms=(\d+)", message).group(1)) / 1000
        starts = [t for t, m in events[name] if m.startswith("reconcile ") and t <= done - took + 0.0005]
        if starts:
            parts["session ended -> reconcile starts"].append(starts[-1] - ended)
            parts["reconcile -> final write sent"].append(done - took - starts[-1])
        parts["final write (API server)"].append(took)
        parts["write done -> watcher sees it"].append(shown - done)
        parts["total"].append(shown - ended)
    for name, values in parts.items():
        print(f"{name:36} p50 {pct(values, 50)}  p90 {pct(values, 90)}  p99 {pct(values, 99)}  (n={len(values)})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
