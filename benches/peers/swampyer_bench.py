"""The benchmark program of examples/bench.rs, for Python's swampyer.

Run with the router venv's python (it has swampyer):

    swampyer_bench.py --role callee|caller --url URL --realm REALM --user U --password P
        --serializer json|msgpack|cbor [--calls N] [--big-calls M] [--threads T]
        [--duration S] [--observe LABEL:PID[+PID...]]... [--latencies FILE]
        [--ping-interval S]

Same phases, same measurements and the same JSON line as the Rust program (see
examples/bench.rs), with "impl": "python-swampyer". Only the standard library and
swampyer are used.
"""

import argparse
import json
import math
import os
import sys
import threading
import time

import swampyer

PROCEDURE = "com.izaber.wamp.bench.echo"
URI_BASE = "com.izaber.wamp"
# swampyer puts uri_base in front of every URI, so it is given the relative one
RELATIVE = PROCEDURE[len(URI_BASE) + 1 :]
WARMUP_CALLS = 200
SMALL = "0123456789abcdef" * 4  # 64 bytes
BIG_BYTES = 1 << 20
IMPL = "python-swampyer"

NS_PER_TICK = 10_000_000  # CLK_TCK is 100 for /proc, whatever the kernel's HZ


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--role", required=True, choices=["callee", "caller"])
    p.add_argument("--url", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--serializer", required=True, choices=["json", "msgpack", "cbor"])
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--big-calls", type=int, default=30)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--observe", action="append", default=[], metavar="LABEL:PID[+PID...]")
    p.add_argument("--latencies", metavar="FILE", help="write every sequential call's latency (ns)")
    p.add_argument("--ping-interval", type=float, default=3, help="heartbeat (s); 0: none")
    args = p.parse_args()
    if args.calls < 1:
        p.error("--calls must be at least 1")
    observe = []
    for spec in args.observe:
        label, sep, pids = spec.partition(":")
        if not sep:
            p.error("--observe wants LABEL:PID[+PID...], not {!r}".format(spec))
        observe.append((label, [int(x) for x in pids.split("+")]))
    args.observe = observe
    return args


def connect(args):
    return swampyer.WAMPClientTicket(
        url=args.url,
        realm=args.realm,
        username=args.user,
        password=args.password,
        uri_base=URI_BASE,
        serializers=[args.serializer],
        auto_reconnect=False,
        timeout=60,
        ping_interval=args.ping_interval,
    ).start()


def close(client):
    # shutdown() alone polls for up to 10 s until the state is disconnected
    client.disconnect()
    client.shutdown()


def callee(args):
    client = connect(args)

    def echo(event, *args, **kwargs):
        return args[0] if args else None

    client.register(RELATIVE, echo)
    print("READY", flush=True)
    while True:
        time.sleep(3600)


# --- measuring (as in bench.rs) -------------------------------------------------------------


def stat_fields(path):
    with open(path) as f:
        text = f.read()
    return text[text.rindex(")") + 1 :].split()


def read_cpu(pids):
    """(schedstat ns of the threads alive now, utime+stime ticks of every thread)."""
    sched = ticks = 0
    for pid in pids:
        try:
            tasks = os.listdir("/proc/{}/task".format(pid))
        except OSError:
            tasks = []
        for tid in tasks:
            try:
                with open("/proc/{}/task/{}/schedstat".format(pid, tid)) as f:
                    sched += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        try:
            fields = stat_fields("/proc/{}/stat".format(pid))
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return sched, ticks


def cpu_since(now, earlier):
    sched = max(0, now[0] - earlier[0])
    ticks = max(0, now[1] - earlier[1]) * NS_PER_TICK
    # threads that exited during the phase are missing from the schedstat sum
    return ticks if ticks > sched + sched // 10 + 2 * NS_PER_TICK else sched


def machine_cpu():
    """(busy, steal, idle) clock ticks of the whole machine (the cpu line of /proc/stat)."""
    with open("/proc/stat") as f:
        t = [int(x) for x in f.readline().split()[1:]] + [0] * 10
    return (t[0] + t[1] + t[2] + t[5] + t[6], t[7], t[3] + t[4])


def status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Meter:
    def __init__(self, observe):
        self.labels = ["caller"] + [label for label, _ in observe]
        self.pids = [["self"]] + [[str(p) for p in pids] for _, pids in observe]

    def read(self):
        return (time.perf_counter(), [read_cpu(p) for p in self.pids], machine_cpu())

    def phase(self, name, start, calls):
        end = self.read()
        cpu = {label: cpu_since(e, s) for label, e, s in zip(self.labels, end[1], start[1])}
        machine = [(e - s) * NS_PER_TICK / 1e6 for e, s in zip(end[2], start[2])]
        phase = {
            "name": name,
            "wall_s": end[0] - start[0],
            "calls": calls,
            "cpu_ns": cpu,
            "machine_ms": dict(zip(("busy", "steal", "idle"), machine)),
        }
        print(
            "{}: {} calls in {:.3f} s, {}".format(
                name,
                calls,
                phase["wall_s"],
                ", ".join("{} {:.1f} ms CPU".format(k, v / 1e6) for k, v in cpu.items()),
            ),
            file=sys.stderr,
            flush=True,
        )
        return phase


def phase_json(phase):
    return {
        "wall_s": round(phase["wall_s"], 4),
        "calls": phase["calls"],
        "cpu_ms": {k: round(v / 1e6, 3) for k, v in phase["cpu_ns"].items()},
        "machine_ms": phase["machine_ms"],
    }


def percentile_us(sorted_ns, p):
    rank = math.ceil(p / 100.0 * len(sorted_ns))
    return sorted_ns[min(max(rank, 1), len(sorted_ns)) - 1] / 1e3


def transport_name(url):
    scheme = url.split("://", 1)[0]
    return {
        "ws": "websocket",
        "wss": "websocket-tls",
        "tcpip": "rawsocket",
        "tcpips": "rawsocket-tls",
        "unix": "rawsocket-unix",
    }.get(scheme, "unknown")


def echo(client, payload):
    reply = client.call(RELATIVE, payload)
    if reply != payload:
        raise RuntimeError(
            "the echo came back different ({} instead of a {}-byte string)".format(type(reply).__name__, len(payload))
        )


def caller(args):
    meter = Meter(args.observe)
    big = "x" * BIG_BYTES

    client = connect(args)
    connected_rss_kib = status_kib("VmRSS")
    try:
        start = meter.read()
        for _ in range(WARMUP_CALLS):
            echo(client, SMALL)
        warmup = meter.phase("warmup", start, WARMUP_CALLS)
        idle_rss_kib = status_kib("VmRSS")

        latencies = []
        clock = time.perf_counter_ns
        start = meter.read()
        for _ in range(args.calls):
            t = clock()
            echo(client, SMALL)
            latencies.append(clock() - t)
        seq = meter.phase("sequential", start, args.calls)
        if args.latencies:
            with open(args.latencies, "w") as f:
                f.writelines("{}\n".format(ns) for ns in latencies)
        latencies.sort()

        start = meter.read()
        for _ in range(args.big_calls):
            echo(client, big)
        big_phase = meter.phase("big", start, args.big_calls)
        del big

        threaded = None
        if args.threads > 0 and args.duration > 0:
            count = [0] * args.threads
            errors = []
            finished = threading.Barrier(args.threads + 1)
            measured = threading.Barrier(args.threads + 1)
            start = meter.read()
            deadline = start[0] + args.duration

            def work(i):
                try:
                    while time.perf_counter() < deadline:
                        echo(client, SMALL)
                        count[i] += 1
                except Exception as ex:  # reported after the phase
                    errors.append(ex)
                # stay alive until the phase is measured (schedstat of live threads)
                finished.wait()
                measured.wait()

            workers = [threading.Thread(target=work, args=(i,)) for i in range(args.threads)]
            for w in workers:
                w.start()
            finished.wait()
            threaded = meter.phase("threaded", start, sum(count))
            measured.wait()
            for w in workers:
                w.join()
            if errors:
                raise errors[0]

        # VmHWM is kept up to date lazily by the kernel: never report less than was seen
        max_rss_kib = max(status_kib("VmHWM"), status_kib("VmRSS"), idle_rss_kib)
    finally:
        close(client)

    phases = {p["name"]: phase_json(p) for p in (warmup, seq, big_phase, threaded) if p}
    report = {
        "impl": IMPL,
        "serializer": args.serializer,
        "transport": transport_name(args.url),
        "p50_us": round(percentile_us(latencies, 50), 1),
        "p90_us": round(percentile_us(latencies, 90), 1),
        "p99_us": round(percentile_us(latencies, 99), 1),
        "max_us": round(percentile_us(latencies, 100), 1),
        "big_mean_ms": round(big_phase["wall_s"] * 1e3 / args.big_calls, 3) if args.big_calls else None,
        "seq_calls_per_s": round(args.calls / seq["wall_s"], 1),
        "threaded_calls_per_s": round(threaded["calls"] / threaded["wall_s"], 1) if threaded else None,
        "cpu_us_per_call": round(seq["cpu_ns"]["caller"] / 1e3 / args.calls, 2),
        "max_rss_kib": max_rss_kib,
        "idle_rss_kib": idle_rss_kib,
        "connected_rss_kib": connected_rss_kib,
        "calls": args.calls,
        "big_calls": args.big_calls,
        "threads": args.threads,
        "duration_s": args.duration,
        "phases": phases,
    }
    print(json.dumps(report, sort_keys=True), flush=True)


def main():
    args = parse_args()
    if args.role == "callee":
        callee(args)
    else:
        caller(args)


if __name__ == "__main__":
    main()
