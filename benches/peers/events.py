"""Events (publish/subscribe) benchmark: each implementation's publisher and subscriber against
the test router, beside the floor (examples/bench_floor.rs, the cheapest publisher and
subscriber there can be) and the peers. Every program follows benches/peers/EVENTS.md.

Run with the router venv's python, or through events.sh, which finds it:

    bash benches/peers/events.sh            # full run, writes benches/results/events.md
    bash benches/peers/events.sh --smoke    # CI: 1 s phases, ours and the floor only (< 1 minute)

Full mode starts one router (tests/router/router.py, as run.py does) and, for each
configuration (default: WebSocket + CBOR for 3 rounds, RawSocket + CBOR for 3 rounds), runs
rounds back to back. Each round first calibrates the router's saturating rate R: the floor's
publisher floods the floor's subscriber, and R is the rate at which events arrive there. Then
each implementation in turn (rotating which goes first) starts its subscriber, waits for READY,
and runs its publisher with the phases p50 (paced at 0.5 R), p90 (paced at 0.9 R), acked and
flood, then --quit (the flood last: the backlog it leaves would add to later latencies); the publisher observes the router worker and the subscriber (--observe).
The runner also samples the router worker's CPU every 0.1 s, so that the router's use while it
delivers the flood to the subscriber (which outlasts the publisher's flood: the router buffers)
is known too. Medians over rounds, ratios to the floor round by round, the targets of issue 29,
the machine and the command go to benches/results/events.md (--out), rewritten whole on each
run. --smoke writes nothing.

Further peers are registered in PEERS (name -> how to prepare it, its command, what it speaks)
and switched on with their flag: --wamp-async (benches/peers/wamp_async_bench), --autobahn-js
(benches/peers/autobahn_js/bench.js under node, after npm ci). A peer that is not there, or whose
program has no publisher role yet, is skipped with a note in the report.
"""

import argparse
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SWAMPYER_BENCH = os.path.join(HERE, "swampyer_bench.py")

sys.path.insert(0, HERE)
import run as calls  # noqa: E402  (the calls runner: the router, the flags, the machine)

sys.path.insert(0, os.path.dirname(HERE))
from report_file import default_path, write_report  # noqa: E402

from run import (  # noqa: E402
    BASELINE,
    CALLEE,
    CALLER,
    ENDPOINT_NAMES,
    FLOOR,
    RUST,
    SWAMPYER,
    WAMP_ASYNC,
    WAMP_ASYNC_DIR,
    Router,
    bench_args,
    child_env,
    fmt,
    fmt_ratio,
    median,
    parse_configs,
    reproduce_and_machine,
    round_ratios,
    start_program,
)

AUTOBAHN_JS = "js-autobahn"
AUTOBAHN_DIR = os.path.join(HERE, "autobahn_js")

READY_TIMEOUT = 60.0
# how often the runner reads the router worker's CPU
SAMPLE_EVERY = 0.1

# The publisher's phases after calibration: (name, kind, share of R)
# The paced phases come first: a flood leaves the router (and a subscriber that falls behind)
# with a backlog that the next phase's latencies would include.
PHASES = [("p50", "paced", 0.5), ("p90", "paced", 0.9), ("acked", "acked", None), ("flood", "flood", None)]
# --smoke: paced at a handful of events per second
SMOKE_RATES = {"p50": 5, "p90": 9}

# what every publisher phase and subscriber line must have (EVENTS.md), and its type
NUMBER = (int, float)
PUBLISHER_PHASE = {
    "kind": str,
    "sent": int,
    "seconds": NUMBER,
    "events_per_s": NUMBER,
    "publish_p50_us": NUMBER,
    "publish_p99_us": NUMBER,
    "publish_max_ms": NUMBER,
    "cpu_us_per_event": NUMBER,
    "observed": dict,
    "max_rss_kib": int,
}
SUBSCRIBER_LINE = {
    "phase": str,
    "sent": int,
    "received": int,
    "stray": int,
    "first_recv_ns": int,
    "last_recv_ns": int,
    "events_per_s": NUMBER,
    "lat_p50_us": NUMBER,
    "lat_p99_us": NUMBER,
    "cpu_us_per_event": NUMBER,
    "max_rss_kib": int,
}

# Issue 29's goals
TARGETS_NOTE = {
    "rate": "flood events/s router-bound (router worker ≥ 0.85 of a core while delivering) and ahead of every peer",
    "cpu": "subscriber CPU per event at 50 % of R ≤ 1.25 × the floor's",
    "stall": "no publish() blocked more than 50 ms (paced phases)",
    "rss": "publisher peak RSS after the flood (reported)",
}


def log(*args):
    print("events.py:", *args, file=sys.stderr, flush=True)


# --- the implementations ------------------------------------------------------------------------


class Skip(Exception):
    """A peer that cannot run here, and why."""


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def build_examples(profile):
    """Builds our bench and the floor; returns their paths."""
    cmd = ["cargo", "build", "--quiet", "--example", "bench", "--example", "bench_floor"]
    if profile == "release":
        cmd.insert(2, "--release")
    log("building:", shlex.join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)
    paths = [os.path.join(target_dir(), profile, "examples", name) for name in ("bench", "bench_floor")]
    for path in paths:
        if not os.path.exists(path):
            raise RuntimeError("built, but {} is missing".format(path))
    return paths


def prepare_wamp_async(args, python):
    return calls.build_wamp_async()


def prepare_autobahn_js(args, python):
    script = os.path.join(AUTOBAHN_DIR, "bench.js")
    if not os.path.exists(script):
        raise Skip("`benches/peers/autobahn_js/bench.js` is not there")
    node = shutil.which("node")
    if not node:
        raise Skip("no `node` on PATH")
    if os.path.exists(os.path.join(AUTOBAHN_DIR, "package.json")):
        npm = shutil.which("npm")
        if not npm:
            raise Skip("no `npm` on PATH to install its packages")
        log("installing Autobahn|JS: npm ci in", AUTOBAHN_DIR)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AUTOBAHN_DIR, capture_output=True, text=True)
        if done.returncode != 0:
            raise Skip("`npm ci` failed: " + done.stderr.strip()[-500:])
    return [node, script]


class Peer:
    """A further implementation, run only with its flag.

    prepare(args, python) returns the command that starts its program (to which the runner
    adds EVENTS.md's flags), or raises Skip. speaks maps each endpoint it can use to the
    serializers it has there; the other configurations go without it, with a note."""

    def __init__(self, name, flag, help, prepare, speaks, says):
        self.name = name
        self.flag = flag
        self.help = help
        self.prepare = prepare
        self.speaks = speaks
        self.says = says


PEERS = [
    Peer(
        WAMP_ASYNC,
        "--wamp-async",
        "also run wamp_async 0.3.1 (builds benches/peers/wamp_async_bench)",
        prepare_wamp_async,
        {"ws": ("json", "msgpack"), "tcp": ("json", "msgpack")},
        "JSON and MessagePack over WebSocket and RawSocket TCP (PEERS.md)",
    ),
    Peer(
        AUTOBAHN_JS,
        "--autobahn-js",
        "also run Autobahn|JS (node benches/peers/autobahn_js/bench.js, after npm ci)",
        prepare_autobahn_js,
        {"ws": ("json", "msgpack", "cbor"), "tcp": ("json",), "unix": ("json",)},
        "every serializer over WebSocket, JSON only over RawSocket (PEERS.md)",
    ),
]


def programs(args, python):
    """({impl: command}, [(impl, why it is skipped)]) for this run."""
    bench, floor = build_examples(args.profile)
    commands = {RUST: [bench], FLOOR: [floor], SWAMPYER: [python, SWAMPYER_BENCH]}
    skipped = []
    if args.smoke:
        return commands, skipped
    if args.baseline:
        commands[BASELINE] = [os.path.abspath(args.baseline)]
    for peer in PEERS:
        if not getattr(args, peer.flag[2:].replace("-", "_")):
            continue
        try:
            commands[peer.name] = peer.prepare(args, python)
        except Skip as why:
            log("skipping {}: {}".format(peer.name, why))
            skipped.append((peer.name, str(why)))
    return commands, skipped


def takes_part(impl, endpoint, serializer):
    for peer in PEERS:
        if peer.name == impl:
            return serializer in peer.speaks.get(endpoint, ())
    return True


# --- the processes --------------------------------------------------------------------------------


def cpu_ns(pids):
    """CPU time of every live thread of `pids` (schedstat), in ns."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir("/proc/{}/task".format(pid))
        except OSError:
            continue
        for tid in tasks:
            try:
                with open("/proc/{}/task/{}/schedstat".format(pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


NS_PER_TICK = 1e9 / os.sysconf("SC_CLK_TCK")


def machine_busy_ns():
    """CPU time every process of the machine used so far (the cpu line of /proc/stat: user,
    nice, system, irq, softirq), in ns; as bench_support counts it."""
    try:
        with open("/proc/stat") as f:
            t = [int(x) for x in f.readline().split()[1:]] + [0] * 10
    except (OSError, ValueError):
        return 0
    return (t[0] + t[1] + t[2] + t[5] + t[6]) * NS_PER_TICK


class Sampler:
    """Reads the CPU of `pids`, and of the whole machine, every SAMPLE_EVERY seconds, with
    CLOCK_REALTIME timestamps (the clock of the subscriber's receive times), to tell their CPU
    use over any later window."""

    def __init__(self, pids):
        self.pids = pids
        self.samples = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self):
        self.samples.append((time.time_ns(), cpu_ns(self.pids), machine_busy_ns()))

    def _run(self):
        while True:
            self._sample()
            if self.stopping.wait(SAMPLE_EVERY):
                break

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self._sample()

    def _at(self, t, which):
        """Cumulative CPU (`which`: 1 the pids, 2 the machine) at time t, interpolated."""
        samples = self.samples
        for s0, s1 in zip(samples, samples[1:]):
            t0, t1 = s0[0], s1[0]
            if t0 <= t <= t1:
                c0, c1 = s0[which], s1[which]
                return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c0
        return None

    def cores(self, start_ns, end_ns, which=1):
        """CPU use in cores between two CLOCK_REALTIME times, of the pids (or with which=2 of
        the whole machine); None for a window too short to say (under three samples; the
        machine's counters tick every 10 ms) or outside the samples."""
        if not start_ns or not end_ns or end_ns - start_ns < 3 * SAMPLE_EVERY * 1e9:
            return None
        a, b = self._at(start_ns, which), self._at(end_ns, which)
        if a is None or b is None:
            return None
        return (b - a) / (end_ns - start_ns)


# Faults of a peer's own that its stderr shows, and what they mean; a subscriber that shows
# one is not waited for (it would keep the runner waiting out the grace period).
KNOWN_PEER_FAULTS = {
    "unpack requires a buffer of 4 bytes": (
        "swampyer's RawSocket reader lost its place in the stream: it reads a frame header's "
        "3-byte length with a single recv(3), which fails when the header is split between "
        "two TCP segments, and it reads on from there (PEERS.md)"
    ),
}


class Subscriber:
    """A subscriber program: started, READY awaited, its JSON lines collected."""

    def __init__(self, command):
        self.command = command
        self.proc = start_program(command)
        self.lines = []
        self.stderr = []
        # what KNOWN_PEER_FAULTS says of the first fault its stderr showed
        self.fault = None
        self.faulted = threading.Event()
        self.ready = threading.Event()
        self.readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self.readers:
            reader.start()
        if not self.ready.wait(READY_TIMEOUT) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(
                "the subscriber did not print READY: {}\nstdout: {}\nstderr: {}".format(
                    shlex.join(command), "".join(self.lines)[-1000:], "".join(self.stderr)[-2000:]
                )
            )

    def _read_stdout(self):
        for line in self.proc.stdout:
            if line.strip() == "READY" and not self.ready.is_set():
                self.ready.set()
                continue
            self.lines.append(line)
        self.ready.set()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)
            for signature, meaning in KNOWN_PEER_FAULTS.items():
                if signature in line and self.fault is None:
                    self.fault = meaning
                    self.faulted.set()

    @property
    def pid(self):
        return self.proc.pid

    def wait(self, timeout):
        """True once the subscriber has exited (and its output is read), False on timeout or
        once it showed a known fault."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.proc.wait(timeout=max(0.0, min(deadline - time.monotonic(), 0.2)))
                break
            except subprocess.TimeoutExpired:
                if self.faulted.is_set() or time.monotonic() >= deadline:
                    return False
        for reader in self.readers:
            reader.join(5)
        return True

    def phases(self):
        """({phase: line}, [problems])"""
        lines, problems = {}, []
        for text in self.lines:
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except ValueError:
                problems.append("not JSON: {!r}".format(text[:300]))
                continue
            missing = check(line, SUBSCRIBER_LINE)
            if missing:
                problems.append("subscriber line for {}: {}".format(line.get("phase"), "; ".join(missing)))
            lines[line.get("phase")] = line
        return lines, problems

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def check(record, required, nullable=()):
    """What `record` lacks of `required` ({key: type}); `nullable` keys may be null."""
    problems = []
    for key, kind in required.items():
        value = record.get(key)
        if key not in record:
            problems.append("no " + key)
        elif value is None and key in nullable:
            continue
        elif not isinstance(value, kind) or isinstance(value, bool):
            problems.append("{} is {!r}".format(key, value))
    return problems


def run_publisher(command, timeout):
    """Runs a publisher; returns (report, None) or (None, error text)."""
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=child_env()
        )
    except subprocess.TimeoutExpired as ex:
        return None, "the publisher timed out after {:.0f} s\nstderr:\n{}".format(timeout, (ex.stderr or "")[-2000:])
    if done.returncode != 0:
        return None, "the publisher's exit status is {}\nstderr:\n{}".format(done.returncode, done.stderr[-3000:])
    lines = [l for l in done.stdout.splitlines() if l.strip()]
    if not lines:
        return None, "the publisher wrote nothing\nstderr:\n" + done.stderr[-3000:]
    try:
        report = json.loads(lines[-1])
    except ValueError as ex:
        return None, "the publisher's last line is not JSON ({}): {!r}".format(ex, lines[-1][:500])
    problems = []
    for name, phase in (report.get("phases") or {}).items():
        # a phase in which nothing was sent has no rate or percentiles
        nullable = set(PUBLISHER_PHASE) - {"kind", "sent", "seconds", "observed", "max_rss_kib"}
        problems += ["{}: {}".format(name, p) for p in check(phase, PUBLISHER_PHASE, nullable)]
    if not report.get("phases"):
        problems.append("no phases")
    if problems:
        return None, "bad publisher report: {}\n{}".format("; ".join(problems), lines[-1][:1000])
    return report, None


def run_pair(impl, command, url, serializer, phases, duration, worker_pids):
    """One implementation's subscriber and publisher with `phases` ([(name, kind, rate)]).
    Returns a record: impl, publisher report, subscriber lines by phase, router cores while the
    flood was delivered, error text (None when all went well)."""
    record = {
        "impl": impl,
        "publisher": None,
        "subscriber": {},
        "router_delivery_cores": None,
        "machine_delivery_cores": None,
        "error": None,
    }
    sampler = Sampler(worker_pids)
    try:
        try:
            subscriber = Subscriber(command + bench_args("subscriber", url, serializer, CALLEE))
        except RuntimeError as ex:
            record["error"] = str(ex)
            return record
        try:
            cmd = command + bench_args("publisher", url, serializer, CALLER) + ["--duration", str(duration)]
            for name, kind, rate in phases:
                cmd += ["--phase", name + ":" + kind + ("" if rate is None else ":{:.1f}".format(rate))]
            cmd += ["--quit", "--observe", "router:" + "+".join(map(str, worker_pids))]
            cmd += ["--observe", "subscriber:{}".format(subscriber.pid)]
            # a flood can outlast its phase by as long as the router takes to drain the socket
            report, error = run_publisher(cmd, 120 + 10 * duration * len(phases))
            record["publisher"] = report
            # the subscriber may still be working through what the router buffered for it
            sent = sum(p.get("sent") or 0 for p in (report or {}).get("phases", {}).values())
            grace = min(900.0, 30.0 + sent / 500.0) if report else 10.0
            exited = subscriber.wait(grace)
            lines, problems = subscriber.phases()
            record["subscriber"] = lines
            errors = [error] if error else []
            if subscriber.fault:
                errors.append("the subscriber failed: " + subscriber.fault)
            elif not exited:
                errors.append(
                    "the subscriber had not exited {:.0f} s after the publisher (it reported {} of {} phases)".format(
                        grace, len(lines), len(phases)
                    )
                )
            elif subscriber.proc.returncode != 0:
                errors.append(
                    "the subscriber's exit status is {}\nstderr:\n{}".format(
                        subscriber.proc.returncode, "".join(subscriber.stderr)[-2000:]
                    )
                )
            if report:
                missing = [name for name, _, _ in phases if name not in lines]
                if missing:
                    errors.append("no subscriber line for phase(s) " + ", ".join(missing))
            errors += problems
            lost = [l for l in subscriber.stderr if "connection" in l and "lost" in l]
            if lost:
                errors.append("the subscriber lost its connection:\n" + "".join(lost)[-1000:])
            if errors:
                record["error"] = "\n".join(errors)
        finally:
            subscriber.stop()
    finally:
        sampler.stop()
    flood = record["subscriber"].get("flood")
    if flood:
        window = (flood.get("first_recv_ns"), flood.get("last_recv_ns"))
        record["router_delivery_cores"] = sampler.cores(*window)
        record["machine_delivery_cores"] = sampler.cores(*window, which=2)
    return record


# --- figures --------------------------------------------------------------------------------------


def phase_of(record, side, name):
    if side == "publisher":
        return ((record.get("publisher") or {}).get("phases") or {}).get(name) or {}
    return record.get("subscriber", {}).get(name) or {}


def cores(cpu_us_per_event, events, seconds):
    if cpu_us_per_event is None or not events or not seconds:
        return None
    return cpu_us_per_event * events / 1e6 / seconds


def figures(record):
    """The report's figures of one run of one implementation, by key."""
    pub = lambda name: phase_of(record, "publisher", name)  # noqa: E731
    sub = lambda name: phase_of(record, "subscriber", name)  # noqa: E731
    out = {}
    flood_pub, flood_sub = pub("flood"), sub("flood")
    out["delivered"] = flood_sub.get("events_per_s")
    out["published"] = flood_pub.get("events_per_s")
    if flood_pub.get("sent") is not None and flood_sub.get("received") is not None:
        out["lost"] = flood_pub["sent"] - flood_sub["received"]
    lost_other = [
        pub(name)["sent"] - sub(name)["received"]
        for name in ("acked", "p50", "p90")
        if pub(name).get("sent") is not None and sub(name).get("received") is not None
    ]
    out["lost_other"] = sum(lost_other) if lost_other else None
    out["acked"] = pub("acked").get("events_per_s")
    for name in ("p50", "p90"):
        out[name + ".lat_p50"] = sub(name).get("lat_p50_us")
        out[name + ".lat_p99"] = sub(name).get("lat_p99_us")
    out["sub_cpu_p50"] = sub("p50").get("cpu_us_per_event")
    out["sub_cpu_flood"] = flood_sub.get("cpu_us_per_event")
    out["pub_cpu_flood"] = flood_pub.get("cpu_us_per_event")
    out["stall_flood"] = flood_pub.get("publish_max_ms")
    out["stall_acked"] = pub("acked").get("publish_max_ms")
    paced = [pub(name).get("publish_max_ms") for name in ("p50", "p90") if pub(name).get("publish_max_ms") is not None]
    out["stall_paced"] = max(paced) if paced else None
    out["pub_rss_flood"] = flood_pub.get("max_rss_kib")
    rss = [line.get("max_rss_kib") for line in record.get("subscriber", {}).values() if line.get("max_rss_kib")]
    out["sub_rss"] = max(rss) if rss else None
    dropped = [line.get("dropped") for line in record.get("subscriber", {}).values() if line.get("dropped") is not None]
    out["dropped"] = max(dropped) if dropped else None
    # what bounds the flood, in cores: the router over the publisher's window (its --observe)
    # and while it delivered to the subscriber (sampled by the runner), the subscriber over its
    # receiving, the publisher over its flood
    router = (flood_pub.get("observed") or {}).get("router") or {}
    out["router_cores_pub"] = cores(router.get("cpu_us_per_event"), flood_pub.get("sent"), flood_pub.get("seconds"))
    out["router_cores_delivery"] = record.get("router_delivery_cores")
    out["machine_cores_delivery"] = record.get("machine_delivery_cores")
    span = (flood_sub.get("last_recv_ns") or 0) - (flood_sub.get("first_recv_ns") or 0)
    out["sub_cores_flood"] = cores(flood_sub.get("cpu_us_per_event"), flood_sub.get("received"), span / 1e9)
    out["pub_cores_flood"] = cores(flood_pub.get("cpu_us_per_event"), flood_pub.get("sent"), flood_pub.get("seconds"))
    return out


# (label, key, digits, which way is better)
ROWS = [
    ("flood: events/s delivered at the subscriber", "delivered", 0, "higher"),
    ("flood: events lost (published − received)", "lost", 0, "lower"),
    ("acked: events/s", "acked", 0, "higher"),
    ("latency p50 at 50 % of R (µs)", "p50.lat_p50", 0, "lower"),
    ("latency p99 at 50 % of R (µs)", "p50.lat_p99", 0, "lower"),
    ("latency p50 at 90 % of R (µs)", "p90.lat_p50", 0, "lower"),
    ("latency p99 at 90 % of R (µs)", "p90.lat_p99", 0, "lower"),
    ("subscriber CPU per event at 50 % of R (µs)", "sub_cpu_p50", 1, "lower"),
    ("subscriber CPU per event in flood (µs)", "sub_cpu_flood", 1, "lower"),
    ("publisher CPU per event in flood (µs)", "pub_cpu_flood", 2, "lower"),
    ("longest publish() in flood (ms)", "stall_flood", 1, "lower"),
    ("longest publish() in paced phases (ms)", "stall_paced", 2, "lower"),
    ("longest publish() in acked, until PUBLISHED (ms)", "stall_acked", 2, "lower"),
    ("publisher peak RSS after the flood (KiB)", "pub_rss_flood", 0, "lower"),
    ("subscriber peak RSS (KiB)", "sub_rss", 0, "lower"),
    ("events lost in acked and paced phases", "lost_other", 0, "lower"),
]


def summarize(records):
    """Median of every figure over the runs."""
    all_figures = [figures(r) for r in records]
    keys = sorted({k for f in all_figures for k in f})
    return {k: median([f.get(k) for f in all_figures]) for k in keys}


def ratios_to(records, other, key):
    """`key` of `records` over `other`'s, round by round ([(round, record)] each)."""
    return round_ratios(records, other, lambda r: figures(r).get(key))


def fmt_range(ratios):
    if not ratios:
        return ""
    return "; round by round {:.2f}–{:.2f}, median {:.2f}".format(min(ratios), max(ratios), median(ratios))


def bound(f, nproc):
    """What bounds a flood, from the cores each process, and the machine, used."""
    router = f.get("router_cores_delivery")
    if router is None:
        router = f.get("router_cores_pub")
    sub = f.get("sub_cores_flood")
    machine = f.get("machine_cores_delivery")
    if router is not None and router >= 0.85:
        return "the router ({:.2f} of a core; it is single-threaded)".format(router)
    if sub is not None and sub >= 0.85:
        return "the subscriber ({:.2f} cores)".format(sub)
    if machine is not None and machine >= 0.9 * nproc:
        return "the machine: {:.2f} of its {} cores busy, the router got {} of one".format(
            machine, nproc, fmt(router, 2)
        )
    busiest = max(
        [("router", router), ("subscriber", sub), ("publisher", f.get("pub_cores_flood"))],
        key=lambda x: x[1] or 0,
    )
    return "no process saturated (busiest: {} at {}); hand-offs, or the machine's other load".format(
        busiest[0], fmt(busiest[1], 2) + " cores" if busiest[1] is not None else "–"
    )


# --- the report ---------------------------------------------------------------------------------


def render(args, info, configs, calibrations, results, skipped, command_line, load, elapsed):
    out = []
    w = out.append
    w("# Events: izaber-wamp's publisher and subscriber beside the floor and peers")
    w("")
    w(
        "Generated by `benches/peers/events.py` on {} in {:.0f} s; each run rewrites this file whole.".format(
            time.strftime("%Y-%m-%d %H:%M %Z"), elapsed
        )
    )
    w("")
    reproduce_and_machine(w, command_line, info, *load)
    w("## Method")
    w("")
    w(
        "One Crossbar.io router (`tests/router/router.py`, one router worker process) on 127.0.0.1. Every program "
        "follows `benches/peers/EVENTS.md`: one publisher process and one subscriber process of the same "
        "implementation, 64-byte events on one topic. Each round first calibrates **R**, the router's saturating "
        "rate: the floor's publisher floods the floor's subscriber for {d} s, and R is the rate at which the events "
        "arrive there. Then each implementation in turn (rotating which goes first) runs its subscriber and its "
        "publisher with the phases *p50* and *p90* (unacknowledged, paced at 0.5 R and 0.9 R), *acked* (each "
        "waiting for PUBLISHED) and *flood* (unacknowledged, back to back), {d} s each. Figures are medians over the "
        "rounds; *ours ÷ floor* is the median of the round-by-round ratios (the programs of a round run back to "
        "back, so a slow spell of the machine moves both alike).".format(d=args.duration)
    )
    w("")
    w(
        "*Delivered events/s* is measured at the subscriber, from its first to its last receive of the phase. "
        "Latency is the subscriber's `CLOCK_REALTIME` at the handler minus the publisher's just before its "
        "`publish()` call (one host, one clock). CPU per event is each process's CPU (all threads, "
        "`/proc/PID/task/*/schedstat`, or `utime + stime` where threads exited) over the phase divided by its "
        "events. *Longest publish()* is the longest single call. Percentiles come from log-linear histograms "
        "(within 1/64); maxima are exact."
    )
    w("")
    w(
        "In a flood the router reads faster than it delivers and buffers the difference (in its own memory and "
        "in the socket buffers), so the subscriber keeps receiving after the publisher is done, and a publisher "
        "whose socket is full waits in `publish()` until the router reads again: the floor's write blocks as long, "
        "which is why the flood's stall is not judged. The runner samples the router worker's CPU every {} s to "
        "say how busy it was while it delivered, beside the publisher's own `--observe` of it over the publishing. "
        "The phases run paced at 50 %, paced at 90 %, acked, then the flood, so that no phase's latencies "
        "include the backlog a flood leaves.".format(SAMPLE_EVERY)
    )
    w("")
    w(
        "Our subscriber lifts its subscription's queue bound (`SubscribeOptions::queue_limit` and `queue_bytes`), "
        "whose default drops the oldest events of a subscriber that falls behind: every drop would still show "
        "as events lost (and in *dropped*, the library's own count, in the JSON lines). swampyer's subscriber "
        "runs one handler at a time (`concurrency_max=1`; its default starts a thread per event with no order, "
        "which would let the end marker overtake its phase's events), each on a thread of its own, with an "
        "unbounded waiting list."
    )
    w("")
    if any(endpoint != "ws" for endpoint, _, _ in configs):
        w(
            "**RawSocket runs use `--ping-interval 0` (every program)**, as `run.py`'s do: swampyer sends no heartbeat "
            "on RawSocket, while ours probes a quiet RawSocket connection with a WAMP round trip."
        )
        w("")
    for name, why in skipped:
        w("**{} not run:** {}.".format(name, why))
        w("")

    for endpoint, serializer, rounds in configs:
        config = (endpoint, serializer)
        title = "{} + {}".format(ENDPOINT_NAMES.get(endpoint, endpoint), serializer.upper())
        w("## {} ({} round{})".format(title, rounds, "s" if rounds != 1 else ""))
        w("")
        cals = [c for c in calibrations if c["config"] == config]
        rates = [c["rate"] for c in cals if c.get("rate")]
        w(
            "R (floor pair, flood, delivered events/s) by round: {}; median {}.".format(
                ", ".join(fmt(c.get("rate")) if c.get("rate") else "failed" for c in cals) or "–", fmt(median(rates))
            )
        )
        w("")
        for c in cals:
            if c.get("error"):
                w("**Calibration failed in round {}:**".format(c["round"]))
                w("")
                w("```")
                w(c["error"].strip()[-1500:])
                w("```")
                w("")
        runs = [r for r in results if r["config"] == config]
        impls = []
        for r in runs:
            if r["impl"] not in impls:
                impls.append(r["impl"])
        for peer in PEERS:
            if peer.name in args._prepared and peer.name not in impls:
                w("{} does not take part: it speaks {}.".format(peer.name, peer.says))
                w("")
        for r in runs:
            if r["error"]:
                w("**{} failed in round {}:**".format(r["impl"], r["round"]))
                w("")
                w("```")
                w(r["error"].strip()[-1500:])
                w("```")
                w("")
        ok = {impl: [(r["round"], r) for r in runs if r["impl"] == impl and not r["error"]] for impl in impls}
        summaries = {impl: summarize([r for _, r in ok[impl]]) if ok[impl] else None for impl in impls}
        if not summaries.get(RUST):
            w("No successful run of ours to report.")
            w("")
            continue
        w("| figure | " + " | ".join(impls) + " | ours ÷ floor |")
        w("|---|" + "---:|" * (len(impls) + 1))
        for label, key, digits, _ in ROWS:
            cells = [fmt(summaries[impl].get(key), digits) if summaries[impl] else "failed" for impl in impls]
            paired = ratios_to(ok[RUST], ok.get(FLOOR, []), key)
            w("| {} | {} | {} |".format(label, " | ".join(cells), fmt_ratio(median(paired)) if paired else "–"))
        w("")

        w(
            "**What bounds the flood** (cores, medians; the router worker is single-threaded; the whole machine "
            "has {} cores and counts every process on it, these and others):".format(info["nproc"])
        )
        w("")
        w(
            "| implementation | delivered events/s | router while delivering | router over the publishing "
            "| subscriber | publisher | whole machine while delivering | bound by |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|---|")
        for impl in impls:
            s = summaries[impl]
            if not s:
                continue
            w(
                "| {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    impl,
                    fmt(s.get("delivered")),
                    fmt(s.get("router_cores_delivery"), 2),
                    fmt(s.get("router_cores_pub"), 2),
                    fmt(s.get("sub_cores_flood"), 2),
                    fmt(s.get("pub_cores_flood"), 2),
                    fmt(s.get("machine_cores_delivery"), 2),
                    bound(s, info["nproc"] or 1),
                )
            )
        w("")

        w("### Targets (issue 29)")
        w("")
        w("| target | figures | result |")
        w("|---|---|---|")
        for key, text, passed in targets(ok, summaries, impls):
            verdict = "reported" if passed == "reported" else "not measured" if passed is None else (
                "**pass**" if passed else "**FAIL**"
            )
            w("| {} | {} | {} |".format(TARGETS_NOTE[key], text, verdict))
        w("")

        w("<details><summary>Every round</summary>")
        w("")
        w(
            "| round | implementation | R | delivered/s | published/s | lost | acked/s | p50 lat at 50 % (µs) "
            "| p99 lat at 50 % | p99 lat at 90 % | sub CPU/event at 50 % (µs) | longest publish() flood / paced (ms) "
            "| router cores delivering | dropped |"
        )
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        rate_of = {c["round"]: c.get("rate") for c in cals}
        for r in sorted(runs, key=lambda r: (r["round"], impls.index(r["impl"]))):
            f = figures(r)
            w(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} |".format(
                    r["round"],
                    r["impl"] + (" (failed)" if r["error"] else ""),
                    fmt(rate_of.get(r["round"])),
                    fmt(f.get("delivered")),
                    fmt(f.get("published")),
                    fmt(f.get("lost")),
                    fmt(f.get("acked")),
                    fmt(f.get("p50.lat_p50")),
                    fmt(f.get("p50.lat_p99")),
                    fmt(f.get("p90.lat_p99")),
                    fmt(f.get("sub_cpu_p50"), 1),
                    fmt(f.get("stall_flood"), 1),
                    fmt(f.get("stall_paced"), 2),
                    fmt(f.get("router_cores_delivery"), 2),
                    fmt(f.get("dropped")),
                )
            )
        w("")
        w("</details>")
        w("")
    return "\n".join(out)


def targets(ok, summaries, impls):
    """[(key, figures text, True/False/None/"reported")] for one configuration."""
    rows = []
    ours = summaries[RUST]
    floor = summaries.get(FLOOR)
    peers = [impl for impl in impls if impl not in (RUST, FLOOR, BASELINE) and summaries.get(impl)]

    # events/s: router-bound, and ahead of every peer round by round
    router = ours.get("router_cores_delivery")
    if router is None:
        router = ours.get("router_cores_pub")
    parts = ["ours {} events/s, router worker {} of a core while delivering".format(
        fmt(ours.get("delivered")), fmt(router, 2))]
    ahead = []
    for peer in peers:
        paired = ratios_to(ok[RUST], ok[peer], "delivered")
        parts.append("vs {} {}: {}{}".format(
            peer, fmt(summaries[peer].get("delivered")),
            fmt_ratio(median(paired)) if paired else "–", fmt_range(paired)))
        ahead.append(median(paired) >= 1.0 if paired else None)
    if floor:
        parts.append("(floor {})".format(fmt(floor.get("delivered"))))
    if router is None or any(a is None for a in ahead):
        passed = None
    else:
        passed = router >= 0.85 and all(ahead)
    rows.append(("rate", "; ".join(parts), passed))

    # subscriber CPU at 50 % of R
    paired = ratios_to(ok[RUST], ok.get(FLOOR, []), "sub_cpu_p50")
    rows.append((
        "cpu",
        "{} µs vs the floor's {} µs: {}{}".format(
            fmt(ours.get("sub_cpu_p50"), 1), fmt(floor.get("sub_cpu_p50") if floor else None, 1),
            fmt_ratio(median(paired)) if paired else "–", fmt_range(paired)),
        None if not paired else median(paired) <= 1.25,
    ))

    # publish() stalls: the worst of every round, paced phases judged
    worst = lambda impl, key: max(  # noqa: E731
        [figures(r).get(key) for _, r in ok.get(impl, []) if figures(r).get(key) is not None], default=None)
    paced = worst(RUST, "stall_paced")
    rows.append((
        "stall",
        "ours at most {} ms in the paced phases (floor {} ms); in flood {} ms (floor {} ms: the router stops "
        "reading, and any publisher blocks); acked, until PUBLISHED, {} ms (floor {} ms); worst over the rounds".format(
            fmt(paced, 2), fmt(worst(FLOOR, "stall_paced"), 2), fmt(worst(RUST, "stall_flood"), 1),
            fmt(worst(FLOOR, "stall_flood"), 1), fmt(worst(RUST, "stall_acked"), 2), fmt(worst(FLOOR, "stall_acked"), 2)),
        None if paced is None else paced <= 50,
    ))

    rows.append((
        "rss",
        "ours {} KiB; ".format(fmt(ours.get("pub_rss_flood"))) + ", ".join(
            "{} {} KiB".format(impl, fmt(summaries[impl].get("pub_rss_flood"))) for impl in impls
            if impl != RUST and summaries.get(impl)),
        "reported",
    ))
    return rows


# --- modes ----------------------------------------------------------------------------------------


def calibrate(command, url, serializer, duration, worker_pids):
    """The floor pair's flood: (delivered events/s at its subscriber, record)."""
    record = run_pair(FLOOR, command, url, serializer, [("flood", "flood", None)], duration, worker_pids)
    rate = phase_of(record, "subscriber", "flood").get("events_per_s")
    return (rate if not record["error"] else None), record


def smoke(args, python):
    """1 s phases, ours and the floor, a handful of paced events; every line must parse, and
    no acknowledged or paced event may be lost."""
    started = time.monotonic()
    program, _ = programs(args, python)
    router = Router().start()
    failures = []
    try:
        pids = router.worker_pids()
        url = router.info["urls"]["ws"]
        rate, record = calibrate(program[FLOOR], url, "cbor", args.duration, pids)
        if rate is None:
            failures.append("calibration: " + (record["error"] or "no rate"))
        else:
            log("ok   calibration: R = {:.0f} events/s".format(rate))
        phases = [(name, kind, SMOKE_RATES.get(name)) for name, kind, _ in PHASES]
        plan = [("ws", (RUST, FLOOR)), ("tcp", (RUST, FLOOR)), ("unix", (FLOOR,))]
        for endpoint, impls in plan:
            url = router.info["urls"][endpoint]
            for impl in impls:
                what = "{} on {}".format(impl, endpoint)
                record = run_pair(impl, program[impl], url, "cbor", phases, args.duration, pids)
                problems = [record["error"]] if record["error"] else []
                report = record["publisher"] or {}
                if report and report.get("impl") != impl:
                    problems.append("the publisher's impl is {!r}".format(report.get("impl")))
                for name, line in record["subscriber"].items():
                    if line.get("impl") != impl:
                        problems.append("the subscriber's impl is {!r}".format(line.get("impl")))
                    sent = phase_of(record, "publisher", name).get("sent")
                    if name != "flood" and (line.get("received") != sent or line.get("stray")):
                        problems.append(
                            "phase {}: {} of {} events received, {} stray".format(
                                name, line.get("received"), sent, line.get("stray")
                            )
                        )
                if problems:
                    failures.append("{}: {}".format(what, "\n".join(problems)))
                    log("FAIL", what, "\n".join(problems))
                else:
                    f = figures(record)
                    log(
                        "ok  ",
                        what,
                        "flood {} events/s delivered ({} lost), acked {} events/s, p50 latency {} µs".format(
                            fmt(f["delivered"]), fmt(f.get("lost")), fmt(f["acked"]), fmt(f["p50.lat_p50"])
                        ),
                    )
    finally:
        router.stop()
    log("smoke test took {:.1f} s".format(time.monotonic() - started))
    if failures:
        log("{} failure(s)".format(len(failures)))
        return 1
    return 0


def full(args, python, command_line):
    started = time.monotonic()
    info = calls.machine(python)
    load_before = calls.loadavg()
    program, skipped = programs(args, python)
    args._prepared = list(program)
    configs = parse_configs(args.configs)
    calibrations = []  # {config, round, rate, error}
    results = []  # run_pair records with config and round
    router = Router().start()
    try:
        pids = router.worker_pids()
        for endpoint, serializer, rounds in configs:
            config = (endpoint, serializer)
            url = router.info["urls"][endpoint]
            impls = [RUST, FLOOR, SWAMPYER] + [BASELINE] * (BASELINE in program) + [
                p.name for p in PEERS if p.name in program and takes_part(p.name, endpoint, serializer)
            ]
            last_rate = None
            for n in range(rounds):
                log("{} {} round {}/{}: calibrating R with the floor's flood".format(endpoint, serializer, n + 1, rounds))
                rate, record = calibrate(program[FLOOR], url, serializer, args.duration, pids)
                calibrations.append({"config": config, "round": n + 1, "rate": rate, "error": record["error"]})
                if rate is None:
                    log("calibration FAILED:", record["error"])
                    rate = last_rate
                else:
                    log("  R = {:.0f} events/s".format(rate))
                    last_rate = rate
                phases = [(name, kind, share * rate if share else None) for name, kind, share in PHASES if not share or rate]
                order = impls[n % len(impls) :] + impls[: n % len(impls)]
                for impl in order:
                    log("{} {} round {}/{}: {}".format(endpoint, serializer, n + 1, rounds, impl))
                    record = run_pair(impl, program[impl], url, serializer, phases, args.duration, pids)
                    record.update(config=config, round=n + 1, rate=rate)
                    results.append(record)
                    if record["error"]:
                        log("FAILED:", record["error"])
                    else:
                        f = figures(record)
                        log(
                            "  flood {} events/s delivered ({} lost), acked {} events/s, latency at 50 % p50 {} µs "
                            "p99 {} µs, subscriber {} µs CPU/event".format(
                                fmt(f["delivered"]),
                                fmt(f.get("lost")),
                                fmt(f["acked"]),
                                fmt(f["p50.lat_p50"]),
                                fmt(f["p50.lat_p99"]),
                                fmt(f["sub_cpu_p50"], 1),
                            )
                        )
    finally:
        router.stop()
    load_after = calls.loadavg()
    elapsed = time.monotonic() - started

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "calibrations": [dict(c, config=list(c["config"])) for c in calibrations],
                    "results": [dict(r, config=list(r["config"])) for r in results],
                },
                f,
                indent=1,
            )
    text = render(args, info, configs, calibrations, results, skipped, command_line, (load_before, load_after), elapsed)
    out = os.path.join(ROOT, args.out) if not os.path.isabs(args.out) else args.out
    write_report(out, text)
    log("wrote {} ({:.0f} s)".format(out, elapsed))
    return 1 if any(r["error"] for r in results) or any(c["error"] for c in calibrations) else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="CI smoke test: 1 s phases, ours and the floor, no report")
    p.add_argument("--configs", default="ws:cbor:3,tcp:cbor:3", help="ENDPOINT:SERIALIZER:ROUNDS,... (endpoints: ws, tcp, unix)")
    p.add_argument("--duration", type=float, help="seconds per phase (default 5; 1 with --smoke)")
    for peer in PEERS:
        p.add_argument(peer.flag, action="store_true", help=peer.help)
    p.add_argument(
        "--baseline",
        help="also run this earlier bench binary (publisher and subscriber) as rust-baseline, for a change's before/after in one run",
    )
    p.add_argument("--out", default=default_path("events.md"), help="the report (rewritten whole)")
    p.add_argument("--json", help="also write every raw record to this file")
    p.add_argument("--profile", choices=["release", "debug"], help="cargo profile (default: release; debug with --smoke)")
    args = p.parse_args()
    if args.profile is None:
        args.profile = "debug" if args.smoke else "release"
    if args.duration is None:
        args.duration = 1.0 if args.smoke else 5.0
    if not (args.duration > 0 and math.isfinite(args.duration)):
        p.error("--duration must be > 0")

    python = sys.executable
    command_line = "bash benches/peers/events.sh" + ("" if len(sys.argv) == 1 else " " + shlex.join(sys.argv[1:]))
    # a SIGTERM ends the run through the finally blocks, which stop the router and the programs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        return smoke(args, python)
    return full(args, python, command_line)


if __name__ == "__main__":
    sys.exit(main())
