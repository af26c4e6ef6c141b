"""The benchmark program of examples/bench.rs, for Python's swampyer.

Run with the router venv's python (it has swampyer):

    swampyer_bench.py --role callee|caller|publisher|subscriber --url URL --realm REALM
        --user U --password P --serializer json|msgpack|cbor [--calls N] [--big-calls M]
        [--threads T] [--duration S] [--phase NAME:KIND[:RATE]]... [--quit]
        [--observe LABEL:PID[+PID...]]... [--latencies FILE] [--ping-interval S]

Same phases, same measurements and the same JSON line as the Rust program (see
examples/bench.rs), with "impl": "python-swampyer". Only the standard library and
swampyer are used.

--role publisher and --role subscriber are the events benchmark's programs
(benches/peers/EVENTS.md, run by benches/peers/events.sh): the publisher publishes with
client.publish() (options {} for fire and forget, {"acknowledge": True} where acknowledged),
the subscriber tallies every event in an ordinary client.subscribe() handler.
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
EVENTS_TOPIC = "com.izaber.wamp.bench.events"
URI_BASE = "com.izaber.wamp"
# swampyer puts uri_base in front of every URI, so it is given the relative one
RELATIVE = PROCEDURE[len(URI_BASE) + 1 :]
EVENTS_RELATIVE = EVENTS_TOPIC[len(URI_BASE) + 1 :]
WARMUP_CALLS = 200
SMALL = "0123456789abcdef" * 4  # 64 bytes
BIG_BYTES = 1 << 20
IMPL = "python-swampyer"

NS_PER_TICK = 10_000_000  # CLK_TCK is 100 for /proc, whatever the kernel's HZ


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--role", required=True, choices=["callee", "caller", "publisher", "subscriber"])
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
    p.add_argument(
        "--phase", action="append", default=[], metavar="NAME:KIND[:RATE]", help="publisher: flood, acked or paced:RATE"
    )
    p.add_argument("--quit", action="store_true", help="publisher: tell the subscriber to quit after the last phase")
    args = p.parse_args()
    if args.calls < 1:
        p.error("--calls must be at least 1")
    phases = []
    for spec in args.phase:
        parts = spec.split(":", 2)
        rate = None
        if len(parts) == 3 and parts[1] == "paced":
            try:
                rate = float(parts[2])
            except ValueError:
                p.error("--phase {}: not a rate".format(spec))
            if not (rate > 0 and math.isfinite(rate)):
                p.error("--phase {}: the rate must be > 0".format(spec))
        elif len(parts) != 2 or parts[1] not in ("flood", "acked") or not parts[0]:
            p.error("--phase wants NAME:flood, NAME:acked or NAME:paced:RATE, not {!r}".format(spec))
        phases.append((parts[0], parts[1], rate))
    args.phase = phases
    if args.role == "publisher" and not phases:
        p.error("a publisher needs a --phase")
    observe = []
    for spec in args.observe:
        label, sep, pids = spec.partition(":")
        if not sep:
            p.error("--observe wants LABEL:PID[+PID...], not {!r}".format(spec))
        observe.append((label, [int(x) for x in pids.split("+")]))
    args.observe = observe
    return args


def connect(args, **options):
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
        **options,
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


# --- the events benchmark (benches/peers/EVENTS.md) ------------------------------------------

PAD = SMALL  # the 64-byte string every event carries


class Histogram:
    """Nanosecond durations in log-linear buckets, as bench_support's Histogram: exact below
    64 ns, then 32 buckets per power of two, percentiles at a bucket's middle (within 1/64),
    the maximum exact. A flood records too many events for a list of them: it would grow
    the very peak RSS the benchmark reports."""

    def __init__(self):
        self.counts = [0] * (64 + 58 * 32)
        self.count = 0
        self.max = 0

    def record(self, ns):
        if ns < 64:
            index = max(ns, 0)
        else:
            shift = ns.bit_length() - 6
            index = 64 + (shift - 1) * 32 + ((ns >> shift) - 32)
        self.counts[index] += 1
        self.count += 1
        if ns > self.max:
            self.max = ns

    @staticmethod
    def middle(index):
        if index < 64:
            return index
        shift = (index - 64) // 32 + 1
        top = (index - 64) % 32 + 32
        return (top << shift) + (1 << (shift - 1))

    def percentile_us(self, p):
        if not self.count:
            return None
        rank = min(max(math.ceil(p / 100.0 * self.count), 1), self.count)
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return min(self.middle(index), self.max) / 1e3
        return self.max / 1e3

    def max_us(self):
        return self.max / 1e3 if self.count else None


def figure(x, digits):
    return None if x is None else round(x, digits)


def peak_rss_kib():
    # VmHWM is kept up to date lazily by the kernel: never report less than VmRSS
    return max(status_kib("VmHWM"), status_kib("VmRSS"))


def publisher(args):
    meter = Meter(args.observe)
    client = connect(args)
    acked = {"acknowledge": True}
    unacked = {}

    def marker(*items):
        result = client.publish(EVENTS_RELATIVE, options=acked, args=list(items))
        if result != swampyer.WAMP_PUBLISHED:
            raise RuntimeError("the router did not acknowledge {}: {}".format(items, result))

    phases = {}
    realtime = time.time_ns
    clock = time.perf_counter_ns
    try:
        for name, kind, rate in args.phase:
            marker("start", name)
            times = Histogram()
            options = acked if kind == "acked" else unacked
            seq = 0
            first = last = None
            duration_ns = int(args.duration * 1e9)
            start = meter.read()
            t0 = clock()
            if kind in ("flood", "acked"):
                last = t0
                while last - t0 < duration_ns:
                    before = clock()
                    result = client.publish(
                        EVENTS_RELATIVE, options=options, args=["event", name, seq, realtime(), PAD]
                    )
                    last = clock()
                    if kind == "acked" and result != swampyer.WAMP_PUBLISHED:
                        raise RuntimeError("the router did not acknowledge event {}: {}".format(seq, result))
                    times.record(last - before)
                    if first is None:
                        first = before
                    seq += 1
            else:
                # event i is due at t0 + i / rate; those due before t0 + duration go out
                total = math.ceil(args.duration * rate)
                while seq < total:
                    due = t0 + int(seq * 1e9 / rate)
                    now = clock()
                    if now < due:
                        time.sleep((due - now) / 1e9)
                        continue
                    before = clock()
                    client.publish(EVENTS_RELATIVE, options=options, args=["event", name, seq, realtime(), PAD])
                    last = clock()
                    times.record(last - before)
                    if first is None:
                        first = before
                    seq += 1
            measured = meter.phase(name, start, seq)
            marker("end", name, seq)
            seconds = (last - first) / 1e9 if first is not None else 0.0

            def per_event(ns):
                return ns / 1e3 / seq if seq else None

            max_us = times.max_us()
            phases[name] = {
                "kind": kind,
                "rate": rate,
                "sent": seq,
                "seconds": round(seconds, 6),
                "events_per_s": round(seq / seconds, 1) if seconds > 0 else None,
                "publish_p50_us": figure(times.percentile_us(50), 2),
                "publish_p99_us": figure(times.percentile_us(99), 2),
                "publish_max_ms": figure(max_us / 1e3 if max_us is not None else None, 3),
                "cpu_us_per_event": figure(per_event(measured["cpu_ns"]["caller"]), 3),
                "observed": {
                    label: {"cpu_us_per_event": figure(per_event(ns), 3)}
                    for label, ns in measured["cpu_ns"].items()
                    if label != "caller"
                },
                "max_rss_kib": peak_rss_kib(),
            }
        if args.quit:
            marker("quit")
    finally:
        close(client)
    report = {
        "impl": IMPL,
        "role": "publisher",
        "serializer": args.serializer,
        "transport": transport_name(args.url),
        "phases": phases,
    }
    print(json.dumps(report, sort_keys=True), flush=True)


class Tally:
    """The subscriber's figures (EVENTS.md, Subscriber), as bench_support's SubscriberTally."""

    def __init__(self, args):
        self.head = {
            "impl": IMPL,
            "role": "subscriber",
            "serializer": args.serializer,
            "transport": transport_name(args.url),
        }
        self.phase = None
        self.stray = 0  # events of no current phase: counted as stray in the next one
        self.quit = threading.Event()
        self.failure = None

    def handle(self, args):
        """Takes one publication's positional arguments."""
        what = args[0] if args else None
        if what == "event":
            now = time.time_ns()
            phase = self.phase
            if phase is not None and phase["name"] == args[1]:
                if not phase["received"]:
                    phase["first"] = now
                phase["last"] = now
                phase["received"] += 1
                phase["latency"].record(max(0, now - args[3]))
            elif phase is not None:
                phase["stray"] += 1
            else:
                self.stray += 1
        elif what == "start":
            if self.phase is not None:
                print(
                    "phase {} started before phase {} ended: its figures are lost".format(args[1], self.phase["name"]),
                    file=sys.stderr,
                    flush=True,
                )
            self.phase = {
                "name": args[1],
                "cpu": read_cpu(["self"]),
                "received": 0,
                "stray": self.stray,
                "first": 0,
                "last": 0,
                "latency": Histogram(),
            }
            self.stray = 0
        elif what == "end":
            phase = self.phase
            if phase is None or phase["name"] != args[1]:
                print("the end of phase {}, which did not start here".format(args[1]), file=sys.stderr, flush=True)
                return
            self.phase = None
            cpu_ns = cpu_since(read_cpu(["self"]), phase["cpu"])
            received = phase["received"]
            span = phase["last"] - phase["first"]
            latency = phase["latency"]
            line = dict(self.head)
            line.update(
                {
                    "phase": phase["name"],
                    "sent": args[2],
                    "received": received,
                    "stray": phase["stray"],
                    "first_recv_ns": phase["first"],
                    "last_recv_ns": phase["last"],
                    "events_per_s": round((received - 1) * 1e9 / span, 1) if received >= 2 and span > 0 else None,
                    "lat_p50_us": figure(latency.percentile_us(50), 1),
                    "lat_p90_us": figure(latency.percentile_us(90), 1),
                    "lat_p99_us": figure(latency.percentile_us(99), 1),
                    "lat_max_us": figure(latency.max_us(), 1),
                    "cpu_us_per_event": round(cpu_ns / 1e3 / received, 3) if received else None,
                    "max_rss_kib": peak_rss_kib(),
                }
            )
            print(json.dumps(line, sort_keys=True), flush=True)
        elif what == "quit":
            self.quit.set()
        else:
            raise RuntimeError("a publication that is no event or marker: {!r}".format(args))


def subscriber(args):
    tally = Tally(args)
    # swampyer's default runs each event's handler on a thread of its own, as many at once as
    # come: the end marker could then be tallied before the last events of its phase. One at a
    # time (still a thread per event) keeps the order, as ours does by default; the waiting
    # list has no bound (queue_max 0), so no event is dropped.
    client = connect(args, concurrency_max=1)

    def on_event(event, *positional, **keywords):
        try:
            tally.handle(positional)
        except Exception as ex:  # reported by the main thread
            tally.failure = ex
            tally.quit.set()

    result = client.subscribe(EVENTS_RELATIVE, on_event)
    if result != swampyer.WAMP_SUBSCRIBED:
        raise RuntimeError("subscribing to {}: {}".format(EVENTS_TOPIC, result))
    print("READY", flush=True)
    tally.quit.wait()
    # close, but exit within the contract's 5 s whatever swampyer's shutdown does
    closing = threading.Thread(target=close, args=(client,), daemon=True)
    closing.start()
    closing.join(4)
    if tally.failure is not None:
        print("swampyer_bench.py: {}".format(tally.failure), file=sys.stderr, flush=True)
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


def main():
    args = parse_args()
    if args.role == "callee":
        callee(args)
    elif args.role == "publisher":
        publisher(args)
    elif args.role == "subscriber":
        subscriber(args)
    else:
        caller(args)


if __name__ == "__main__":
    main()
