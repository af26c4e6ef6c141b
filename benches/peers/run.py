"""Runs examples/bench.rs and swampyer_bench.py against the test router and compares them, with
examples/bench_floor.rs (the cheapest possible caller) as the floor both are measured against.

Run with the router venv's python, or through run.sh, which finds it:

    bash benches/peers/run.sh            # full comparison, writes benches/results/peers.md (a few minutes)
    bash benches/peers/run.sh --smoke    # CI: a handful of calls of each program (< 1 minute)

Full mode starts one router (tests/router/router.py) and, for each configuration
(default: WebSocket + CBOR for 3 rounds, RawSocket + CBOR for 3 rounds), one callee: our
bench program, so that the caller is the only thing that differs. Each round runs our
caller, swampyer's and the floor, rotating which goes first. Each caller measures its own CPU and
the CPU of the router worker and of the callee over each phase (--observe), so the report
can say what bounds each figure. The medians, the ratios, the targets with pass/fail, the
machine and the command go to benches/results/peers.md (--out), which each run rewrites whole;
BENCHMARKS.md quotes its headline figures and keeps the history. --smoke writes nothing.

--js-rounds N adds Autobahn|JS (benches/peers/autobahn_js/bench.js, on Node.js) as a caller
beside ours: `npm ci` there first, then N rounds per configuration against our callee. It is
skipped, with a message, where node or npm is missing. --smoke runs it for a handful of calls
when asked with --js-rounds, or when its node_modules is already installed.
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SWAMPYER_BENCH = os.path.join(HERE, "swampyer_bench.py")

sys.path.insert(0, os.path.dirname(HERE))
from report_file import client_source, cpu_model, default_path, work_tree, write_report  # noqa: E402

READY_TIMEOUT = 60.0

CALLER = ("backend-1", "backend-1-secret")
CALLEE = ("backend-2", "backend-2-secret")

RUST = "rust-izaber-wamp"
SWAMPYER = "python-swampyer"
# examples/bench_floor.rs: one thread, one blocking socket, nothing else. Only the sequential
# phase: what a caller's CPU per call and latency cannot go below.
FLOOR = "floor"
# Our bench built from an earlier commit (--baseline), to show a change's before/after figures
# from one run.
BASELINE = "rust-baseline"

# every key the JSON line of a bench program must have, and its type
REQUIRED = {
    "impl": str,
    "serializer": str,
    "transport": str,
    "p50_us": (int, float),
    "p90_us": (int, float),
    "p99_us": (int, float),
    "big_mean_ms": (int, float),
    "seq_calls_per_s": (int, float),
    "threaded_calls_per_s": (int, float),
    "cpu_us_per_call": (int, float),
    "max_rss_kib": int,
}

# what the floor leaves out (null or absent): it has no 1 MiB or threaded phase, and its RSS
# says nothing about a client
FLOOR_ABSENT = {"big_mean_ms", "threaded_calls_per_s", "max_rss_kib"}

# Issue 13's goals: relative to the client floor measured in the same run, to the router's
# saturation, and to swampyer only where the floor does not apply.
TARGETS_NOTE = {
    "cpu": "caller CPU per sequential call ≤ 1.25 × the client floor's",
    "p50": "p50 latency ≤ 1.10 × the client floor's",
    "big": "1 MiB call ≤ 1/3 of swampyer's time",
    "rss": "idle client RSS ≤ 10 MB",
    "threaded": "threaded calls/s router-bound (router ≥ 0.85 of a core) and ≥ 1.2 × swampyer's",
}


def child_env():
    """Our client logs through `log`; warnings (e.g. a lost connection) go to stderr."""
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "warn")
    return env


def log(*args):
    print("run.py:", *args, file=sys.stderr, flush=True)


# --- the router -------------------------------------------------------------------------------


# The router process itself (prepare, start in a process group, readiness, stop) is the test
# fixture's: tests/router/router_process.py.
sys.path.insert(0, os.path.join(ROOT, "tests", "router"))
from router_process import launch_router, live_group_members  # noqa: E402


class Router:
    """A test router for one benchmark run, removed with its directory when stopped."""

    def __init__(self):
        # router_process runs router.py with this interpreter: run.sh starts us with the venv's.
        self.process = None

    def start(self):
        self.process = launch_router(watch_parent=os.getpid())
        self.info = self.process.info
        return self

    def worker_pids(self):
        """The crossbar router worker process(es): where the routing happens."""
        pids = []
        for pid in live_group_members(self.process.proc.pid):
            try:
                with open("/proc/{}/cmdline".format(pid), "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ")
            except OSError:
                continue
            if b"crossbar-worker" in cmdline or b"crossbar.worker" in cmdline:
                pids.append(pid)
        if not pids:
            raise RuntimeError("no crossbar worker process in the router's process group")
        return pids

    def log_tail(self, lines=60):
        return self.process.log_tail(lines)

    def stop(self):
        if self.process is not None:
            self.process.stop()
            shutil.rmtree(self.process.dir, ignore_errors=True)
            self.process = None


# --- the bench programs ------------------------------------------------------------------------


# On RawSocket swampyer sends no heartbeat, while ours probes a quiet connection with a WAMP
# round trip (Crossbar's RawSocket cannot parse PING frames). Both run there with the
# heartbeat off, so that they compare like with like.
RAWSOCKET_HEARTBEAT_OFF = ["--ping-interval", "0"]


def bench_args(role, url, serializer, user):
    extra = RAWSOCKET_HEARTBEAT_OFF if not url.startswith(("ws://", "wss://")) else []
    return extra + [
        "--role",
        role,
        "--url",
        url,
        "--realm",
        "izaber",
        "--user",
        user[0],
        "--password",
        user[1],
        "--serializer",
        serializer,
    ]


def start_program(command, stdin=subprocess.DEVNULL):
    """A bench program in a session of its own (so that stopping it stops its children), its
    output piped to the runner."""
    return subprocess.Popen(
        command,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=child_env(),
    )


class Callee:
    """A bench program in the callee role, stopped (SIGTERM, by its pid) on stop()."""

    def __init__(self, command):
        self.command = command
        self.proc = start_program(command)
        self.stderr = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        lines = []
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                lines.append(line)
                if line.strip() == "READY":
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(READY_TIMEOUT) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(
                "callee did not print READY: {}\nstdout: {}\nstderr: {}".format(
                    shlex.join(command), "".join(lines), "".join(self.stderr)
                )
            )

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    @property
    def pid(self):
        return self.proc.pid

    def trouble(self):
        """What went wrong with the callee so far, or None: exited, or lost its connection."""
        if self.proc.poll() is not None:
            return "the callee exited ({}); its stderr:\n{}".format(self.proc.returncode, "".join(self.stderr)[-2000:])
        lost = [l for l in self.stderr if "connection" in l and "lost" in l]
        if lost:
            return "the callee lost its connection to the router:\n" + "".join(self.stderr)[-2000:]
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_caller(command, timeout):
    """Runs a caller; returns (report dict, None) or (None, error text)."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=child_env()
        )
    except subprocess.TimeoutExpired as ex:
        return None, "timed out after {:.0f} s\nstderr:\n{}".format(timeout, ex.stderr or "")
    if done.returncode != 0:
        return None, "exit status {}\nstderr:\n{}".format(done.returncode, done.stderr[-3000:])
    lines = [l for l in done.stdout.splitlines() if l.strip()]
    if not lines:
        return None, "no output\nstderr:\n" + done.stderr[-3000:]
    try:
        report = json.loads(lines[-1])
    except ValueError as ex:
        return None, "last stdout line is not JSON ({}): {!r}".format(ex, lines[-1][:500])
    problems = check_report(report)
    if problems:
        return None, "bad report: {}\n{}".format("; ".join(problems), lines[-1][:1000])
    report["_elapsed_s"] = time.monotonic() - started
    return report, None


def absent_by_design(report):
    """Figures a report may leave null: the floor's phases it does not have, and the 1 MiB or
    threaded phase of a caller told to skip it (--big-calls 0, --threads 0)."""
    absent = set(FLOOR_ABSENT) if report.get("impl") == FLOOR else set()
    if report.get("big_calls") == 0:
        absent.add("big_mean_ms")
    if report.get("threads") == 0:
        absent.add("threaded_calls_per_s")
    return absent


def check_report(report):
    problems = []
    absent = absent_by_design(report)
    for key, kind in REQUIRED.items():
        if key in absent and report.get(key) is None:
            continue
        if key not in report:
            problems.append("no " + key)
        elif not isinstance(report[key], kind) or isinstance(report[key], bool):
            problems.append("{} is {!r}".format(key, report[key]))
    return problems


# --- figures ---------------------------------------------------------------------------------------


def derived(report):
    """Per-call CPU of caller, router and callee in each phase, and utilisations."""
    out = {}
    phases = report.get("phases", {})
    for name in ("sequential", "events", "big", "threaded"):
        phase = phases.get(name)
        if not phase or not phase.get("calls"):
            continue
        calls, wall = phase["calls"], phase["wall_s"]
        for who, ms in phase["cpu_ms"].items():
            out["{}.{}_us_per_call".format(name, who)] = ms * 1e3 / calls
            out["{}.{}_util".format(name, who)] = ms / 1e3 / wall if wall else 0.0
        for who, runs in phase.get("runs", {}).items():
            out["{}.{}_runs_per_call".format(name, who)] = runs / calls
        out["{}.wall_us_per_call".format(name)] = wall * 1e6 / calls
        machine = phase.get("machine_ms")
        if machine and wall:
            # in cores: what the whole machine did meanwhile, and what other processes took
            ours = sum(phase["cpu_ms"].values())
            out["{}.machine_busy_cores".format(name)] = machine["busy"] / 1e3 / wall
            out["{}.others_cores".format(name)] = max(0.0, machine["busy"] - ours) / 1e3 / wall
            out["{}.steal_cores".format(name)] = machine["steal"] / 1e3 / wall
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(reports):
    """Median of every figure over rounds."""
    keys = [
        "p50_us",
        "p90_us",
        "p99_us",
        "big_mean_ms",
        "seq_calls_per_s",
        "threaded_calls_per_s",
        "cpu_us_per_call",
        "idle_rss_kib",
        "max_rss_kib",
    ]
    summary = {k: median([r.get(k) for r in reports]) for k in keys}
    all_derived = [derived(r) for r in reports]
    for k in sorted({k for d in all_derived for k in d}):
        summary[k] = median([d.get(k) for d in all_derived])
    summary["rounds"] = len(reports)
    return summary


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(x, digits=0):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    return "{:,.{}f}".format(x, digits)


def fmt_ratio(x):
    return "–" if x is None else "{:.2f}×".format(x)


def round_ratios(mine, other, value):
    """value(report) of `mine` over `other`'s, for each round both have: [(round, report)]
    each. Programs of one round run back to back, so a slow spell of the machine that lasts
    longer than a round moves both alike, where it moves the medians of whole runs apart."""
    theirs = {n: value(r) for n, r in other}
    ratios = []
    for n, r in mine:
        a, b = value(r), theirs.get(n)
        if a is not None and b:
            ratios.append(a / b)
    return ratios


def fmt_rounds(ratios):
    if not ratios:
        return ""
    return "; round by round {:.2f}–{:.2f}, median {:.2f}".format(min(ratios), max(ratios), median(ratios))


def targets(ours, theirs, client_floor, rounds):
    """[(key, figure text, pass?)] for one configuration; None where a figure is missing.
    `rounds` holds each figure's round-by-round ratios (see `round_ratios`), by key: where
    there are some, their median decides, and the ratio of the medians is shown beside it."""
    rows = []

    def verdict(key, r, passes):
        paired = rounds.get(key)
        decisive = median(paired) if paired else r
        return None if decisive is None else passes(decisive)

    floor_cpu = client_floor.get("cpu_us_per_call") if client_floor else None
    r = ratio(ours["cpu_us_per_call"], floor_cpu)
    rows.append(
        (
            "cpu",
            "{} µs vs the floor's {} µs: {}{}".format(
                fmt(ours["cpu_us_per_call"], 1), fmt(floor_cpu, 1), fmt_ratio(r), fmt_rounds(rounds.get("cpu"))
            ),
            verdict("cpu", r, lambda x: x <= 1.25),
        )
    )
    floor_p50 = client_floor.get("p50_us") if client_floor else None
    r = ratio(ours["p50_us"], floor_p50)
    rows.append(
        (
            "p50",
            "{} µs vs the floor's {} µs: {}{} (swampyer {} µs)".format(
                fmt(ours["p50_us"]), fmt(floor_p50), fmt_ratio(r), fmt_rounds(rounds.get("p50")), fmt(theirs["p50_us"])
            ),
            verdict("p50", r, lambda x: x <= 1.10),
        )
    )
    r = ratio(ours["big_mean_ms"], theirs["big_mean_ms"])
    rows.append(
        (
            "big",
            "{} ms vs {} ms: {} of swampyer's{}".format(
                fmt(ours["big_mean_ms"], 1),
                fmt(theirs["big_mean_ms"], 1),
                fmt(r, 2) if r else "–",
                fmt_rounds(rounds.get("big")).replace("×", ""),
            ),
            verdict("big", r, lambda x: x <= 1 / 3),
        )
    )
    rss = ours.get("idle_rss_kib")
    rows.append(
        (
            "rss",
            "{} KiB = {} MB (swampyer {} KiB)".format(
                fmt(rss), fmt(rss * 1024 / 1e6, 1) if rss else "–", fmt(theirs.get("idle_rss_kib"))
            ),
            None if rss is None else rss * 1024 <= 10e6,
        )
    )
    wall = ours.get("threaded.wall_us_per_call")
    router = ours.get("threaded.router_us_per_call")
    router_cores = router / wall if router and wall else None
    r = ratio(ours["threaded_calls_per_s"], theirs["threaded_calls_per_s"])
    rows.append(
        (
            "threaded",
            "{} vs {} calls/s: {}{}; router worker {} of a core".format(
                fmt(ours["threaded_calls_per_s"]),
                fmt(theirs["threaded_calls_per_s"]),
                fmt_ratio(r),
                fmt_rounds(rounds.get("threaded")),
                "–" if router_cores is None else "{:.2f}".format(router_cores),
            ),
            None if router_cores is None else verdict("threaded", r, lambda x: x >= 1.2 and router_cores >= 0.85),
        )
    )
    return rows


def bound_of(s, phase, nproc):
    """Which process bounds a phase, from CPU use relative to wall time."""
    wall = s.get(phase + ".wall_us_per_call")
    if not wall:
        return "–", ""
    parts = {who: s.get("{}.{}_us_per_call".format(phase, who)) or 0.0 for who in ("caller", "router", "callee")}
    shares = {who: us / wall for who, us in parts.items()}
    busiest = max(shares, key=shares.get)
    total = sum(shares.values())
    text = ", ".join("{} {:.0f} µs ({:.0%})".format(who, parts[who], shares[who]) for who in ("caller", "router", "callee"))
    # the rest of the wall time: waiting to be scheduled, wake-up latency, the network stack
    text += ", none of them {:.0%}".format(max(0.0, 1 - total))
    busy = s.get(phase + ".machine_busy_cores")
    others = s.get(phase + ".others_cores")
    steal = s.get(phase + ".steal_cores") or 0.0
    machine = ""
    if busy is not None:
        machine = "; whole machine {:.2f} of {} cores busy, other processes {:.2f}{}".format(
            busy, nproc, others, ", steal {:.2f}".format(steal) if steal >= 0.05 else ""
        )
    if phase == "threaded":
        # the processes run in parallel: utilisation, in cores
        text = ", ".join("{} {:.2f} cores".format(who, shares[who]) for who in ("caller", "router", "callee"))
        if busy is not None and busy + steal >= 0.9 * nproc:
            verdict = "machine CPU: all {} cores busy ({} uses most of ours{})".format(
                nproc, busiest, "; other processes took {:.2f} cores".format(others) if others >= 0.1 else ""
            )
        elif total >= 0.9 * nproc:
            verdict = "machine CPU (all {} cores busy; {} uses most)".format(nproc, busiest)
        elif shares[busiest] >= 0.8:
            # a single-threaded router (or a GIL-bound caller) at 80 % of a core is saturated:
            # the rest of its time is spent waiting in epoll between bursts
            verdict = "{} CPU ({:.0%} of a core; it is single-threaded{})".format(
                busiest, shares[busiest], "" if busiest != "caller" else " or GIL-bound"
            )
        else:
            verdict = "hand-offs / wake-ups (no process saturated; busiest: {} at {:.0%} of a core)".format(
                busiest, shares[busiest]
            )
    else:
        # a sequential call crosses caller -> router -> callee -> router -> caller in turn
        verdict = "{} CPU ({:.0%} of each call's wall time)".format(busiest, shares[busiest])
    return verdict, text + machine


# --- machine --------------------------------------------------------------------------------------


def machine(python):
    def cmd(*args):
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return "?"

    cpu = cpu_model()

    def version(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "?"

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "rustc": cmd("rustc", "--version"),
        "python": platform.python_version(),
        "swampyer": version("swampyer"),
        "crossbar": version("crossbar"),
        # dirty when anything but the reports differs from the commit
        "commit": work_tree(),
        # what was measured: the last commit that changed the client (dirty if src/ is)
        "client": client_source(),
        "clk_tck": os.sysconf("SC_CLK_TCK"),
    }


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


# --- modes -----------------------------------------------------------------------------------------


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def build(profile, examples):
    """Builds the examples; returns their paths."""
    cmd = ["cargo", "build", "--quiet"] + [arg for name in examples for arg in ("--example", name)]
    if profile == "release":
        cmd.insert(2, "--release")
    log("building:", shlex.join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)
    paths = [os.path.join(target_dir(), profile, "examples", name) for name in examples]
    for path in paths:
        if not os.path.exists(path):
            raise RuntimeError("built, but {} is missing".format(path))
    return paths


def programs(args, python):
    """The command that starts each program, by impl. With --binary, the floor is the
    bench_floor beside it if there is one (they come from one build), else built."""
    if args.binary:
        bench = args.binary
        floor = os.path.join(os.path.dirname(os.path.abspath(bench)), "bench_floor")
        if not os.path.exists(floor):
            (floor,) = build(args.profile, ["bench_floor"])
    else:
        bench, floor = build(args.profile, ["bench", "bench_floor"])
    commands = {RUST: [bench], FLOOR: [floor], SWAMPYER: [python, SWAMPYER_BENCH]}
    if args.baseline:
        commands[BASELINE] = [args.baseline]
    return commands


def parse_configs(text):
    """"ws:cbor:3,tcp:cbor:1" -> [("ws", "cbor", 3), ...]"""
    configs = []
    for part in text.split(","):
        endpoint, serializer, rounds = part.split(":")
        if endpoint not in ("ws", "tcp", "unix"):
            raise SystemExit("endpoint must be ws, tcp or unix, not " + endpoint)
        configs.append((endpoint, serializer, int(rounds)))
    return configs


def smoke(args, python):
    """A handful of calls of each program and each role; the JSON lines must parse."""
    started = time.monotonic()
    program = programs(args, python)
    # Autobahn|JS only where asked for (--js-rounds) or already installed: CI has no npm to rely on
    js, _ = prepare_js(install=args.js_rounds > 0)
    if js:
        program[JS] = js
    router = Router().start()
    failures = []
    try:
        sizes = ["--calls", "20", "--big-calls", "2", "--threads", "2", "--duration", "0.5"]
        # (callee, its endpoint, callers): both callers on WebSocket, ours on RawSocket too,
        # and swampyer's callee once, so that no part of either program can rot; the floor
        # once as caller and once as callee, so that it cannot either
        plan = [
            (RUST, "ws", "cbor", (RUST, SWAMPYER, FLOOR)),
            (RUST, "tcp", "cbor", (RUST,)),
            (SWAMPYER, "ws", "cbor", (RUST,)),
            (FLOOR, "unix", "cbor", (RUST,)),
        ]
        if JS in program:
            # its caller on WebSocket and on RawSocket (JSON: all its RawSocket speaks), its callee once
            plan += [
                (RUST, "ws", "cbor", (JS,)),
                (RUST, "unix", "json", (JS,)),
                (JS, "ws", "msgpack", (RUST,)),
            ]
        for callee_impl, endpoint, serializer, callers in plan:
            url = router.info["urls"][endpoint]
            callee = Callee(program[callee_impl] + bench_args("callee", url, serializer, CALLEE))
            try:
                for caller_impl in callers:
                    cmd = program[caller_impl] + bench_args("caller", url, serializer, CALLER) + sizes
                    cmd += ["--observe", "router:" + "+".join(map(str, router.worker_pids()))]
                    cmd += ["--observe", "callee:{}".format(callee.pid)]
                    report, error = run_caller(cmd, timeout=120)
                    what = "{} caller, {} callee, {} {}".format(caller_impl, callee_impl, endpoint, serializer)
                    trouble = callee.trouble()
                    if trouble:
                        error = (error or "") + "\n" + trouble
                    if error:
                        failures.append("{}: {}".format(what, error))
                        log("FAIL", what, error)
                    elif report["impl"] != caller_impl:
                        failures.append("{}: impl is {!r}".format(what, report["impl"]))
                    else:
                        log(
                            "ok  ",
                            what,
                            "p50 {} µs, {} µs CPU/call".format(report["p50_us"], report["cpu_us_per_call"]),
                        )
            finally:
                callee.stop()
    finally:
        router.stop()
    log("smoke test took {:.1f} s".format(time.monotonic() - started))
    if failures:
        log("{} failure(s)".format(len(failures)))
        return 1
    return 0


def full(args, python, command_line):
    started = time.monotonic()
    info = machine(python)
    load_before = loadavg()
    program = programs(args, python)
    configs = parse_configs(args.configs)
    js, js_skipped = prepare_js(install=True) if args.js_rounds else (None, None)
    sizes = [
        "--calls",
        str(args.calls),
        "--big-calls",
        str(args.big_calls),
        "--threads",
        str(args.threads),
        "--duration",
        str(args.duration),
    ]
    results = []  # (config, impl, round, report or None, error or None)
    router = Router().start()
    try:
        worker_pids = router.worker_pids()
        for endpoint, serializer, rounds in configs:
            url = router.info["urls"][endpoint]
            callee = Callee(program[args.callee] + bench_args("callee", url, serializer, CALLEE))
            try:
                for n in range(rounds):
                    impls = [RUST, SWAMPYER, FLOOR] + ([BASELINE] if args.baseline else [])
                    # rotate who goes first, so that no client always gets the warmest router
                    order = impls[n % len(impls) :] + impls[: n % len(impls)]
                    for impl in order:
                        cmd = program[impl] + bench_args("caller", url, serializer, CALLER) + sizes
                        cmd += ["--observe", "router:" + "+".join(map(str, worker_pids))]
                        cmd += ["--observe", "callee:{}".format(callee.pid)]
                        timeout = 120 + args.calls * 0.02 + args.big_calls * 2 + args.duration
                        log("{} {} round {}/{}: {}".format(endpoint, serializer, n + 1, rounds, impl))
                        report, error = run_caller(cmd, timeout)
                        trouble = callee.trouble()
                        if trouble:
                            error = (error or "") + "\n" + trouble
                            report = None
                            # a fresh callee for the rest, so that one failure costs one run
                            callee.stop()
                            callee = Callee(program[args.callee] + bench_args("callee", url, serializer, CALLEE))
                        if error:
                            log("FAILED:", error)
                        else:
                            text = "  p50 {} µs, {} µs CPU/call".format(report["p50_us"], report["cpu_us_per_call"])
                            if impl != FLOOR:
                                text += ", big {} ms, threaded {} calls/s".format(
                                    report["big_mean_ms"], report["threaded_calls_per_s"]
                                )
                            log(text)
                        results.append(((endpoint, serializer), impl, n + 1, report, error))
            finally:
                callee.stop()
        callee_results = compare_callees(args, program, router, configs, sizes, worker_pids)
        peer_results = compare_peers(args, program, router, worker_pids)
        js_results = compare_js(args, program, js, router, configs, sizes, worker_pids) if js else []
    finally:
        router.stop()
    load_after = loadavg()
    elapsed = time.monotonic() - started

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "results": [
                        {"config": list(c), "impl": i, "round": n, "report": r, "error": e} for c, i, n, r, e in results
                    ],
                    "js_results": [
                        {"config": list(c), "impl": i, "round": n, "report": r, "error": e}
                        for c, i, n, r, e in js_results
                    ],
                },
                f,
                indent=1,
            )

    text = render(args, info, configs, results, command_line, load_before, load_after, elapsed)
    text += render_callees(args, configs, callee_results)
    text += render_peers(args, peer_results)
    text += render_js(args, js_results, js_skipped)
    out = os.path.join(ROOT, args.out) if not os.path.isabs(args.out) else args.out
    write_report(out, text)
    log("wrote {} ({:.0f} s)".format(out, elapsed))
    failed = [r for r in results + callee_results + peer_results + js_results if r[4]]
    return 1 if failed else 0


CALLEES = (RUST, SWAMPYER, FLOOR)

WAMP_ASYNC = "rust-wamp_async"
WAMP_ASYNC_DIR = os.path.join(HERE, "wamp_async_bench")


def build_wamp_async():
    """The wamp_async peer: a crate of its own, outside the workspace, built only when asked."""
    manifest = os.path.join(WAMP_ASYNC_DIR, "Cargo.toml")
    # Its own target directory, whatever CARGO_TARGET_DIR says: the binary is looked for there.
    target = os.path.join(WAMP_ASYNC_DIR, "target")
    cmd = ["cargo", "build", "--release", "--quiet", "--locked", "--manifest-path", manifest, "--target-dir", target]
    log("building:", shlex.join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)
    return [os.path.join(target, "release", "wamp-async-bench")]


def compare_peers(args, program, router, worker_pids):
    """With --peer-rounds N: threaded throughput on one WebSocket connection, ours beside the
    async Rust client wamp_async 0.3.1, each calling its own kind of callee, with MessagePack
    and JSON (all wamp_async speaks), N rounds each, alternating who goes first. With
    --peer-cross, each caller also calls the other's callee (MessagePack only), which tells
    whose caller or callee holds the router back."""
    results = []  # ((endpoint, serializer), (caller impl, callee impl), round, report or None, error or None)
    if not args.peer_rounds:
        return results
    peer = build_wamp_async()
    url = router.info["urls"]["ws"]
    threaded = ["--threads", str(args.threads), "--duration", str(args.duration)]
    commands = {
        RUST: (program[RUST], ["--calls", "100", "--big-calls", "0"] + threaded),
        WAMP_ASYNC: (peer, threaded),
    }
    for serializer in ("msgpack", "json"):
        pairs = [(RUST, RUST), (WAMP_ASYNC, WAMP_ASYNC)]
        if args.peer_cross and serializer == "msgpack":
            pairs += [(RUST, WAMP_ASYNC), (WAMP_ASYNC, RUST)]
        for n in range(args.peer_rounds):
            for caller_impl, callee_impl in pairs if n % 2 == 0 else pairs[::-1]:
                binary, sizes = commands[caller_impl]
                callee = Callee(commands[callee_impl][0] + bench_args("callee", url, serializer, CALLEE))
                try:
                    cmd = binary + bench_args("caller", url, serializer, CALLER) + sizes
                    cmd += ["--observe", "router:" + "+".join(map(str, worker_pids))]
                    cmd += ["--observe", "callee:{}".format(callee.pid)]
                    log(
                        "ws {} peer round {}/{}: {} calling {}".format(
                            serializer, n + 1, args.peer_rounds, caller_impl, callee_impl
                        )
                    )
                    report, error = run_peer(cmd, 120 + args.duration)
                    trouble = callee.trouble()
                    if trouble:
                        error, report = (error or "") + "\n" + trouble, None
                    if error:
                        log("FAILED:", error)
                    else:
                        log("  threaded {:.0f} calls/s".format(report["threaded_calls_per_s"]))
                    results.append((("ws", serializer), (caller_impl, callee_impl), n + 1, report, error))
                finally:
                    callee.stop()
    return results


def run_peer(command, timeout):
    """Runs a caller whose report need only have the threaded phase."""
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=child_env()
        )
    except subprocess.TimeoutExpired:
        return None, "timed out after {:.0f} s".format(timeout)
    if done.returncode != 0:
        return None, "exit status {}\nstderr:\n{}".format(done.returncode, done.stderr[-3000:])
    lines = [l for l in done.stdout.splitlines() if l.strip()]
    try:
        report = json.loads(lines[-1])
    except (ValueError, IndexError):
        return None, "no JSON report\nstderr:\n" + done.stderr[-3000:]
    if not isinstance(report.get("threaded_calls_per_s"), (int, float)):
        return None, "no threaded_calls_per_s in the report"
    return report, None


def render_peers(args, results):
    if not results:
        return ""
    lines = []
    w = lines.append
    w("")
    w("## Threaded throughput beside wamp_async")
    w("")
    w(
        "WebSocket, {} threads (ours) or tokio tasks (wamp_async 0.3.1, `benches/peers/wamp_async_bench/`) "
        "sharing one connection for {} s; {} rounds per pair and serializer, alternating which goes first; "
        "medians. Router µs per call is the router worker's CPU over the phase divided by the calls: what "
        "the traffic costs the router. *Runs per call* counts how often each process's threads were put on "
        "a CPU (the third field of `/proc/PID/task/*/schedstat`), per call: nearly all of them are wake-ups, "
        "so for the router it is how often it ran out of work, and for a client how many thread hand-offs "
        "a call costs it.".format(args.threads, args.duration, args.peer_rounds)
    )
    for serializer in ("msgpack", "json"):
        rows = [r for r in results if r[0] == ("ws", serializer)]
        pairs = []
        for _, pair, _, _, _ in rows:
            if pair not in pairs:
                pairs.append(pair)
        w("")
        w("### WebSocket + {}".format(serializer.upper() if serializer == "json" else "MessagePack"))
        w("")
        w(
            "| caller | callee | threaded calls/s | router worker (cores) | router µs per call "
            "| router runs per call | caller (cores) | caller runs per call | callee (cores) | callee runs per call |"
        )
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for pair in pairs:
            ok = [r for _, p, _, r, _ in rows if p == pair and r]
            if not ok:
                w("| {} | {} | failed | | | | | | | |".format(*pair))
                continue
            d = [derived(r) for r in ok]

            def m(key, digits=0):
                values = [x.get(key) for x in d if x.get(key) is not None]
                return fmt(median(values), digits) if values else "–"

            w(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    pair[0],
                    pair[1],
                    fmt(median([r["threaded_calls_per_s"] for r in ok])),
                    m("threaded.router_util", 2),
                    m("threaded.router_us_per_call"),
                    m("threaded.router_runs_per_call", 2),
                    m("threaded.caller_util", 2),
                    m("threaded.caller_runs_per_call", 2),
                    m("threaded.callee_util", 2),
                    m("threaded.callee_runs_per_call", 2),
                )
            )
        w("")
        w(paired_rounds(rows, (RUST, RUST), (WAMP_ASYNC, WAMP_ASYNC)))
    w("")
    return "\n".join(lines)


def paired_rounds(rows, ours, theirs):
    """Ours against the peer round by round (see `round_ratios`)."""
    def rounds_of(which):
        return [(n, report) for _, pair, n, report, _ in rows if report and pair == which]

    ratios = round_ratios(rounds_of(ours), rounds_of(theirs), lambda r: r["threaded_calls_per_s"])
    if not ratios:
        return "No round has both {} and {}.".format(ours[0], theirs[0])
    return (
        "Round by round, {} ÷ {} (both pairs ran back to back in each round): ahead in {} of {} rounds; "
        "ratios {:.2f}–{:.2f}, median {:.2f}.".format(
            ours[0], theirs[0], sum(1 for r in ratios if r > 1), len(ratios), min(ratios), max(ratios), median(ratios)
        )
    )


JS = "js-autobahn"
JS_DIR = os.path.join(HERE, "autobahn_js")


def prepare_js(install):
    """(the command that starts Autobahn|JS's bench program, None) or (None, why not). With
    `install`, `npm ci` in its directory first (exactly its package-lock.json); without, only a
    node_modules that is already there is used. Missing node or npm is not an error: the runner
    goes on without it and says why."""
    node, npm = shutil.which("node"), shutil.which("npm")
    missing = [name for name, path in (("node", node), ("npm", npm if install else "-")) if not path]
    if missing:
        why = "no {} on PATH".format(" and no ".join(missing))
        log("Autobahn|JS skipped:", why)
        return None, why
    if install:
        cmd = [npm, "ci", "--no-audit", "--no-fund"]
        log("installing Autobahn|JS:", shlex.join(cmd), "in", os.path.relpath(JS_DIR, ROOT))
        done = subprocess.run(cmd, cwd=JS_DIR, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            log("Autobahn|JS skipped: npm ci failed ({}):\n{}".format(done.returncode, (done.stdout + done.stderr)[-2000:]))
            return None, "`npm ci` failed (exit status {})".format(done.returncode)
    elif not os.path.isdir(os.path.join(JS_DIR, "node_modules", "autobahn")):
        log("Autobahn|JS not installed (--js-rounds, or npm ci in {}): not part of this run".format(os.path.relpath(JS_DIR, ROOT)))
        return None, "not installed"
    return [node, os.path.join(JS_DIR, "bench.js")], None


def js_serializer(endpoint, serializer):
    """Autobahn|JS's RawSocket speaks JSON only: RawSocket configurations are compared on JSON."""
    return serializer if endpoint == "ws" else "json"


def compare_js(args, program, js, router, configs, sizes, worker_pids):
    """With --js-rounds N: for each configuration, ours and Autobahn|JS call our callee, the same
    phases and sizes as the main comparison, N rounds, back to back, alternating which goes
    first. On RawSocket both use JSON (see `js_serializer`)."""
    results = []  # ((endpoint, serializer), impl, round, report or None, error or None)
    done = set()
    for endpoint, serializer, _ in configs:
        serializer = js_serializer(endpoint, serializer)
        if (endpoint, serializer) in done:
            continue
        done.add((endpoint, serializer))
        url = router.info["urls"][endpoint]
        callee_cmd = program[RUST] + bench_args("callee", url, serializer, CALLEE)
        callee = Callee(callee_cmd)
        try:
            for n in range(args.js_rounds):
                for impl in (RUST, JS) if n % 2 == 0 else (JS, RUST):
                    cmd = (js if impl == JS else program[RUST]) + bench_args("caller", url, serializer, CALLER) + sizes
                    cmd += ["--observe", "router:" + "+".join(map(str, worker_pids))]
                    cmd += ["--observe", "callee:{}".format(callee.pid)]
                    timeout = 120 + args.calls * 0.02 + args.big_calls * 2 + args.duration
                    log("{} {} Autobahn|JS round {}/{}: {}".format(endpoint, serializer, n + 1, args.js_rounds, impl))
                    report, error = run_caller(cmd, timeout)
                    trouble = callee.trouble()
                    if trouble:
                        error, report = (error or "") + "\n" + trouble, None
                        callee.stop()
                        callee = Callee(callee_cmd)
                    if error:
                        log("FAILED:", error)
                    else:
                        log(
                            "  p50 {} µs, {} µs CPU/call, big {} ms, threaded {} calls/s".format(
                                report["p50_us"], report["cpu_us_per_call"], report["big_mean_ms"], report["threaded_calls_per_s"]
                            )
                        )
                    results.append(((endpoint, serializer), impl, n + 1, report, error))
        finally:
            callee.stop()
    return results


def versus(a, b, better):
    """"1.50× better" / "1.50× worse": a (ours) against b."""
    if a is None or b is None:
        return "–"
    rel = ratio(b, a) if better == "lower" else ratio(a, b)
    if rel and rel >= 1:
        return "{} better".format(fmt_ratio(rel))
    return "{} worse".format(fmt_ratio(ratio(a, b) if better == "lower" else ratio(b, a)))


def render_js(args, results, skipped):
    if not args.js_rounds:
        return ""
    lines = []
    w = lines.append
    w("")
    w("## Beside Autobahn|JS (Node.js)")
    w("")
    if skipped:
        w("Not run: {}.".format(skipped))
        w("")
        return "\n".join(lines)
    versions = sorted({(r["node"], r["autobahn"]) for _, _, _, r, _ in results if r and r.get("impl") == JS})
    w(
        "Autobahn|JS {} on Node.js {} (`benches/peers/autobahn_js/bench.js`, installed by `npm ci` from its "
        "lock) and ours, each calling our callee with the phases and sizes of the comparison above, {} round{} "
        "per configuration, back to back, alternating which goes first; medians. JavaScript runs a program's "
        "code on one thread: Autobahn|JS's *threaded* phase is {} concurrent call loops (async functions) on "
        "one connection, ours {} threads. Autobahn|JS's RawSocket transport speaks JSON only, so RawSocket "
        "configurations are compared on JSON, both callers.".format(
            "/".join(sorted({a for _, a in versions})) or "?",
            "/".join(sorted({v for v, _ in versions})) or "?",
            args.js_rounds,
            "s" if args.js_rounds != 1 else "",
            args.threads,
            args.threads,
        )
    )
    rows = [
        ("p50 latency (µs)", "p50_us", 0, "lower"),
        ("p90 latency (µs)", "p90_us", 0, "lower"),
        ("p99 latency (µs)", "p99_us", 0, "lower"),
        ("sequential calls/s", "seq_calls_per_s", 0, "higher"),
        ("threaded calls/s ({} threads or call loops, one connection)".format(args.threads), "threaded_calls_per_s", 0, "higher"),
        ("1 MiB call, mean (ms)", "big_mean_ms", 1, "lower"),
        ("caller CPU per call (µs), sequential", "cpu_us_per_call", 1, "lower"),
        ("caller CPU per call (µs), threaded", "threaded.caller_us_per_call", 1, "lower"),
        ("caller CPU per 1 MiB call (µs)", "big.caller_us_per_call", 0, "lower"),
        ("router CPU per call (µs), threaded", "threaded.router_us_per_call", 0, "lower"),
        ("idle RSS (KiB)", "idle_rss_kib", 0, "lower"),
        ("max RSS (KiB)", "max_rss_kib", 0, "lower"),
    ]
    configs = []
    for config, _, _, _, _ in results:
        if config not in configs:
            configs.append(config)
    for endpoint, serializer in configs:
        runs = [(impl, n, r, e) for c, impl, n, r, e in results if c == (endpoint, serializer)]
        w("")
        w("### {} + {}".format(ENDPOINT_NAMES.get(endpoint, endpoint), serializer.upper()))
        w("")
        for impl, n, _, e in runs:
            if e:
                w("**{} failed in round {}:**".format(impl, n))
                w("")
                w("```")
                w(e.strip()[-1500:])
                w("```")
                w("")
        rounds_of = {impl: [(n, r) for i, n, r, _ in runs if i == impl and r] for impl in (RUST, JS)}
        if not rounds_of[RUST] or not rounds_of[JS]:
            w("Not enough successful runs to compare.")
            continue
        ours, theirs = summarize([r for _, r in rounds_of[RUST]]), summarize([r for _, r in rounds_of[JS]])
        w("| figure | izaber-wamp | Autobahn\\|JS | ours vs Autobahn\\|JS |")
        w("|---|---:|---:|---:|")
        for label, key, digits, better in rows:
            a, b = ours.get(key), theirs.get(key)
            w("| {} | {} | {} | {} |".format(label, fmt(a, digits), fmt(b, digits), versus(a, b, better)))
        w("")
        paired = []
        for label, key in (("p50", "p50_us"), ("CPU per sequential call", "cpu_us_per_call"), ("threaded calls/s", "threaded_calls_per_s")):
            ratios = round_ratios(rounds_of[RUST], rounds_of[JS], lambda r, key=key: r.get(key))
            if ratios:
                paired.append("{} {:.2f}–{:.2f} (median {:.2f})".format(label, min(ratios), max(ratios), median(ratios)))
        if paired:
            w("Round by round, ours ÷ Autobahn|JS: {}.".format("; ".join(paired)))
            w("")
        w("<details><summary>Every round</summary>")
        w("")
        w("| round | client | p50 µs | p99 µs | seq calls/s | threaded calls/s | 1 MiB ms | CPU µs/call | router µs/call (threaded) | idle RSS KiB |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for impl in (RUST, JS):
            for i, n, r, _ in runs:
                if i != impl:
                    continue
                if not r:
                    w("| {} | {} | failed | | | | | | | |".format(n, impl))
                    continue
                d = derived(r)
                w(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                        n,
                        impl,
                        fmt(r["p50_us"]),
                        fmt(r["p99_us"]),
                        fmt(r["seq_calls_per_s"]),
                        fmt(r["threaded_calls_per_s"]),
                        fmt(r["big_mean_ms"], 1),
                        fmt(r["cpu_us_per_call"], 1),
                        fmt(d.get("threaded.router_us_per_call")),
                        fmt(r.get("idle_rss_kib")),
                    )
                )
        w("")
        w("</details>")
    w("")
    return "\n".join(lines)


def callee_impls(args):
    """The callees compared: ours, swampyer's, the floor, and with --baseline the earlier build."""
    return list(CALLEES) + ([BASELINE] if args.baseline else [])


def compare_callees(args, program, router, configs, sizes, worker_pids):
    """With --callee-rounds N: for each configuration, each callee (ours, swampyer's, the callee
    floor, and the --baseline build) serves our caller N times; what each invocation costs the
    callee is the figure. Rounds take the callees in turn, rotating which goes first, each one
    started afresh, so that a slow spell of the machine falls on all of them alike."""
    results = []  # (config, callee impl, round, report or None, error or None)
    if not args.callee_rounds:
        return results
    # the 1 MiB phase says nothing new about a callee and takes long with swampyer's
    sizes = [x if sizes[i - 1] != "--big-calls" else "0" for i, x in enumerate(sizes)]
    impls = callee_impls(args)
    for endpoint, serializer, _ in configs:
        url = router.info["urls"][endpoint]
        for n in range(args.callee_rounds):
            shift = n % len(impls)
            for impl in impls[shift:] + impls[:shift]:
                log("{} {} callee {} round {}/{}".format(endpoint, serializer, impl, n + 1, args.callee_rounds))
                try:
                    callee = Callee(program[impl] + bench_args("callee", url, serializer, CALLEE))
                except RuntimeError as e:
                    log("FAILED:", e)
                    results.append(((endpoint, serializer), impl, n + 1, None, str(e)))
                    continue
                try:
                    cmd = program[RUST] + bench_args("caller", url, serializer, CALLER) + sizes
                    # what an event costs a callee that also serves the procedure
                    cmd += ["--events", str(args.calls)]
                    cmd += ["--observe", "router:" + "+".join(map(str, worker_pids))]
                    cmd += ["--observe", "callee:{}".format(callee.pid)]
                    report, error = run_caller(cmd, 120 + args.calls * 0.04 + args.duration)
                    trouble = callee.trouble()
                    if trouble:
                        error, report = (error or "") + "\n" + trouble, None
                    if error:
                        log("FAILED:", error)
                    results.append(((endpoint, serializer), impl, n + 1, report, error))
                finally:
                    callee.stop()
    return results


def render_callees(args, configs, results):
    """The callee comparison: CPU per invocation of each callee, beside the callee floor."""
    if not results:
        return ""
    lines = []
    w = lines.append
    w("")
    w("## The callee's cost per invocation")
    w("")
    w(
        "Each callee in turn (ours, swampyer's, the callee floor: `examples/bench_floor.rs --role callee`, "
        "one thread on one blocking socket answering each INVOCATION with a YIELD, no handler threads{}) serves "
        "our caller, {} rounds per configuration, each round taking the callees in turn (rotating which goes "
        "first, each started afresh), without the 1 MiB phase. CPU per invocation is the callee "
        "process's CPU (all threads) over each phase divided by the calls; medians over the rounds. *vs the floor* "
        "is the median of the round-by-round ratios (the callees of a round run back to back). *Runs per "
        "invocation* counts how often the callee's threads were put on a CPU, per call. *Per event*: the same "
        "caller then publishes as many acknowledged 64-byte events to a topic our callee subscribes to, as a "
        "service that also gets events; swampyer's bench, the floor and a baseline from before that phase do "
        "not subscribe (–).".format(
            ", and `{}`, our bench built from the baseline".format(BASELINE) if args.baseline else "",
            args.callee_rounds,
        )
    )
    for endpoint, serializer, _ in configs:
        w("")
        w("### {} + {}".format(ENDPOINT_NAMES.get(endpoint, endpoint), serializer.upper()))
        w("")
        w(
            "| callee | CPU per invocation, sequential (µs) | vs the floor | runs per invocation, sequential "
            "| CPU per invocation, threaded (µs) | vs the floor | runs per invocation, threaded | p50 (µs) "
            "| threaded calls/s | CPU per event (µs) | runs per event |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        summaries = {}
        impls = callee_impls(args)
        rounds_of = {
            impl: [(n, r) for c, i, n, r, _ in results if c == (endpoint, serializer) and i == impl and r]
            for impl in impls
        }
        for impl in impls:
            ok = [r for _, r in rounds_of[impl]]
            summaries[impl] = summarize(ok) if ok else None

        def vs_floor(impl, key):
            """The median of the round-by-round ratios to the floor (see `round_ratios`)."""
            return median(round_ratios(rounds_of[impl], rounds_of.get(FLOOR, []), lambda r: derived(r).get(key)))

        for impl in impls:
            s = summaries[impl]
            if s is None:
                w("| {} | failed | | | | | | | | | |".format(impl))
                continue
            seq, thr = s.get("sequential.callee_us_per_call"), s.get("threaded.callee_us_per_call")
            event_runs = s.get("events.callee_runs_per_call")
            # Ours subscribes. A callee that does not is not woken by the events at all (a baseline
            # from before the events phase); one that does can be woken less than once per event:
            # on RawSocket, Crossbar leaves Nagle's algorithm on, and events come in batches.
            subscribed = impl == RUST or (event_runs is not None and event_runs >= 0.1)
            event_cpu = s.get("events.callee_us_per_call") if subscribed else None
            w(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    impl,
                    fmt(seq, 1),
                    fmt_ratio(vs_floor(impl, "sequential.callee_us_per_call")),
                    fmt(s.get("sequential.callee_runs_per_call"), 2),
                    fmt(thr, 1),
                    fmt_ratio(vs_floor(impl, "threaded.callee_us_per_call")),
                    fmt(s.get("threaded.callee_runs_per_call"), 2),
                    fmt(s.get("p50_us")),
                    fmt(s.get("threaded_calls_per_s")),
                    fmt(event_cpu, 1),
                    fmt(event_runs if subscribed else None, 2),
                )
            )
    w("")
    return "\n".join(lines)


ENDPOINT_NAMES = {"ws": "WebSocket", "tcp": "RawSocket (TCP)", "unix": "RawSocket (unix socket)"}


def reproduce_and_machine(w, command_line, info, load_before, load_after):
    """A report's *Reproduce* command and *Machine* table (`info` from `machine()`), through
    the line writer `w`: the calls and the events reports share them."""
    w("Reproduce (from the crate root; needs the router venv of `tests/router/setup-venv.sh`):")
    w("")
    w("```sh")
    w(command_line)
    w("```")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    w("| CPUs (`nproc`) | {} |".format(info["nproc"]))
    w("| CPU | {} |".format(info["cpu"]))
    w("| kernel | {} |".format(info["kernel"]))
    w("| load average (1/5/15 min) before → after | {} → {} |".format(load_before, load_after))
    w("| rustc | {} |".format(info["rustc"]))
    w("| Python / swampyer / crossbar | {} / {} / {} |".format(info["python"], info["swampyer"], info["crossbar"]))
    w("| client source (last commit of `src/`, `Cargo.*`) | {} |".format(info["client"]))
    w("| worktree | {} |".format(info["commit"]))
    w("")


def render(args, info, configs, results, command_line, load_before, load_after, elapsed):
    nproc = info["nproc"] or 1
    out = []
    w = out.append
    w("# Calls: izaber-wamp (Rust) vs swampyer (Python) and the client floor")
    w("")
    w("Generated by `benches/peers/run.py` on {} in {:.0f} s; each run rewrites this file whole. `BENCHMARKS.md`".format(time.strftime("%Y-%m-%d %H:%M %Z"), elapsed))
    w("quotes its headline figures, says what bounds them, and keeps the decisions taken on them.")
    w("")
    reproduce_and_machine(w, command_line, info, load_before, load_after)
    w("## Method")
    w("")
    w(
        "One Crossbar.io router (`tests/router/router.py`, one router worker process) on 127.0.0.1. "
        "For each configuration one callee, `{}` (`--role callee`), registers `com.izaber.wamp.bench.echo`; "
        "the callers are the only thing that changes. Each round runs our caller, swampyer's and the client "
        "floor (below) one after the other, rotating which goes first. Each caller: {} warm-up calls, {} "
        "sequential calls with a 64-byte string (each timed), {} calls with a 1 MiB string, then {} threads "
        "sharing one client for {} s. "
        "Figures are medians over the rounds.".format(
            "our bench" if args.callee == RUST else "swampyer_bench.py",
            200,
            args.calls,
            args.big_calls,
            args.threads,
            args.duration,
        )
    )
    w("")
    w(
        "CPU is the scheduler's run time of every thread (`/proc/PID/task/*/schedstat`, nanoseconds), read by the "
        "caller at the start and end of each phase for itself, the router worker and the callee (`--observe`). "
        "`/proc/PID/stat` (`utime + stime`) counts in clock ticks of {} ms: a 3000-call phase of our caller uses "
        "about 0.2 s, which ticks would measure to ±5–10 %; it is read as well and used only when threads that "
        "exited during a phase make it clearly larger. Idle RSS is `VmRSS` after connecting and the warm-up; "
        "max RSS is `VmHWM` at the end (it includes the 1 MiB strings and their copies).".format(
            1000 // (info["clk_tck"] or 100)
        )
    )
    w("")
    w(
        "*Router floor*: the router worker's CPU time per sequential call. A sequential call cannot finish faster "
        "than the router handles its four messages, so this is the latency a client with zero cost would see."
    )
    w("")
    w(
        "*Client floor* (`examples/bench_floor.rs`, `floor` in the tables): not a client but a measuring "
        "instrument, the cheapest WAMP caller there can be: one thread, one blocking socket with `TCP_NODELAY`, "
        "each CALL encoded into a reused buffer and sent with one write, each RESULT taken with one blocking read "
        "(on a unix socket after a poll for readability, which spares it a wake-up per call for the room to "
        "write the router makes) and decoded; no reader thread, no request table, no heartbeat. It makes the same warm-up and sequential "
        "calls (it has no 1 MiB or threaded phase) and is measured by the same code as our bench. What it spends "
        "per call is the kernel's socket work (the send that wakes the router, the receive, going to sleep and "
        "being woken) plus one encode and one decode: any client that calls through the kernel's sockets from "
        "one thread pays at least that, so its CPU per call is a lower bound for any such client's, and a "
        "client's distance to it is what the client itself costs."
    )
    w("")
    if any(endpoint != "ws" for endpoint, _, _ in configs):
        w(
            "**RawSocket runs use `--ping-interval 0` (both programs)**, so that they compare like with like: "
            "swampyer sends no heartbeat on RawSocket, while ours probes a quiet RawSocket connection with a WAMP "
            "round trip (Crossbar's RawSocket cannot parse RawSocket PING frames; see `BENCHMARKS.md`, *Decisions*)."
        )
        w("")

    by_config = {}
    for config, impl, n, report, error in results:
        by_config.setdefault(config, {}).setdefault(impl, []).append((n, report, error))

    main_config = (configs[0][0], configs[0][1]) if configs else None
    for endpoint, serializer, rounds in configs:
        config = (endpoint, serializer)
        runs = by_config.get(config, {})
        ok = {impl: [r for _, r, e in runs.get(impl, []) if r] for impl in (RUST, SWAMPYER, FLOOR)}
        title = "{} + {}".format(ENDPOINT_NAMES.get(endpoint, endpoint), serializer.upper())
        w("## {} ({} round{})".format(title, rounds, "s" if rounds != 1 else ""))
        w("")
        errors = [(impl, n, e) for impl, lst in runs.items() for n, _, e in lst if e]
        for impl, n, e in errors:
            w("**{} failed in round {}:**".format(impl, n))
            w("")
            w("```")
            w(e.strip()[-1500:])
            w("```")
            w("")
        if not ok[RUST] or not ok[SWAMPYER]:
            w("Not enough successful runs to compare.")
            w("")
            continue
        ours, theirs = summarize(ok[RUST]), summarize(ok[SWAMPYER])
        client_floor = summarize(ok[FLOOR]) if ok[FLOOR] else None
        w("| figure | izaber-wamp | swampyer | client floor | ours vs swampyer |")
        w("|---|---:|---:|---:|---:|")
        rows = [
            ("p50 latency (µs)", "p50_us", 0, "lower"),
            ("p90 latency (µs)", "p90_us", 0, "lower"),
            ("p99 latency (µs)", "p99_us", 0, "lower"),
            ("sequential calls/s", "seq_calls_per_s", 0, "higher"),
            ("threaded calls/s ({} threads, one connection)".format(args.threads), "threaded_calls_per_s", 0, "higher"),
            ("1 MiB call, mean (ms)", "big_mean_ms", 1, "lower"),
            ("caller CPU per call (µs), sequential", "cpu_us_per_call", 1, "lower"),
            ("caller CPU per call (µs), threaded", "threaded.caller_us_per_call", 1, "lower"),
            ("caller CPU per 1 MiB call (µs)", "big.caller_us_per_call", 0, "lower"),
            ("idle RSS (KiB)", "idle_rss_kib", 0, "lower"),
            ("max RSS (KiB)", "max_rss_kib", 0, "lower"),
        ]
        for label, key, digits, better in rows:
            a, b = ours.get(key), theirs.get(key)
            if better == "lower":
                rel = ratio(b, a)
                rel_text = "{} better".format(fmt_ratio(rel)) if rel and rel >= 1 else "{} worse".format(fmt_ratio(ratio(a, b)))
            else:
                rel = ratio(a, b)
                rel_text = "{} better".format(fmt_ratio(rel)) if rel and rel >= 1 else "{} worse".format(fmt_ratio(ratio(b, a)))
            f = client_floor.get(key) if client_floor else None
            w(
                "| {} | {} | {} | {} | {} |".format(
                    label, fmt(a, digits), fmt(b, digits), fmt(f, digits), rel_text if a is not None and b is not None else "–"
                )
            )
        w("")

        if args.baseline:
            base_runs = [r for _, r, e in runs.get(BASELINE, []) if r]
            if base_runs:
                base = summarize(base_runs)
                w("### Before / after (`--baseline {}`)".format(os.path.basename(args.baseline)))
                w("")
                w("| figure | before (baseline) | after (this build) | change |")
                w("|---|---:|---:|---:|")
                for label, key, digits, better in rows:
                    a, b = ours.get(key), base.get(key)
                    if a is None or b is None:
                        continue
                    change = ratio(b, a) if better == "lower" else ratio(a, b)
                    w("| {} | {} | {} | {} |".format(label, fmt(b, digits), fmt(a, digits), fmt_ratio(change) + " better" if change and change >= 1 else fmt_ratio(ratio(a, b) if better == "lower" else ratio(b, a)) + " worse"))
                w("")

        w("### Targets")
        w("")
        w(
            "First the ratio of the medians; then, where the programs ran in the same rounds (back to back), "
            "the ratios round by round, whose median decides."
        )
        w("")
        w("| target | figures | result |")
        w("|---|---|---|")
        ok_rounds = {impl: [(n, r) for n, r, _ in runs.get(impl, []) if r] for impl in (RUST, SWAMPYER, FLOOR)}
        rounds = {
            "cpu": round_ratios(ok_rounds[RUST], ok_rounds[FLOOR], lambda r: r.get("cpu_us_per_call")),
            "p50": round_ratios(ok_rounds[RUST], ok_rounds[FLOOR], lambda r: r.get("p50_us")),
            "big": round_ratios(ok_rounds[RUST], ok_rounds[SWAMPYER], lambda r: r.get("big_mean_ms")),
            "threaded": round_ratios(ok_rounds[RUST], ok_rounds[SWAMPYER], lambda r: r.get("threaded_calls_per_s")),
        }
        for key, text, passed in targets(ours, theirs, client_floor, rounds):
            verdict = "not measured" if passed is None else "**pass**" if passed else "**FAIL**"
            w("| {} | {} | {} |".format(TARGETS_NOTE[key], text, verdict))
        w("")

        w("### What bounds each figure")
        w("")
        w(
            "CPU per call of each process in each phase (median over rounds) and, in brackets, as a share of "
            "the call's wall time; for the threaded phase, each process's CPU use in cores. "
            "The machine has {} cores.".format(nproc)
        )
        w("")
        w("| figure | client | CPU per call: caller, router, callee | bound by |")
        w("|---|---|---|---|")
        for label, phase in (
            ("sequential latency / calls/s", "sequential"),
            ("1 MiB calls", "big"),
            ("threaded calls/s", "threaded"),
        ):
            clients = [(RUST, ours), (SWAMPYER, theirs)]
            if phase == "sequential" and client_floor:
                clients.append((FLOOR, client_floor))
            for impl, s in clients:
                verdict, text = bound_of(s, phase, nproc)
                w("| {} | {} | {} | {} |".format(label, impl, text, verdict))
        for impl, s in ((RUST, ours), (SWAMPYER, theirs)):
            cpu = s["cpu_us_per_call"]
            if client_floor:
                own = cpu - client_floor["cpu_us_per_call"]
                if own >= 0:
                    text = "{} µs = client floor {} µs + {} µs of its own".format(
                        fmt(cpu, 1), fmt(client_floor["cpu_us_per_call"], 1), fmt(own, 1)
                    )
                    verdict = "the client itself: {:.0%} of its CPU is above the floor".format(
                        own / cpu if cpu else 0
                    )
                else:
                    # the floor's own figure varies from run to run on a busy machine
                    text = "{} µs, below the client floor's {} µs in this run".format(
                        fmt(cpu, 1), fmt(client_floor["cpu_us_per_call"], 1)
                    )
                    verdict = "the floor: nothing measurable of the client's own"
            else:
                text, verdict = "{} µs; no client floor figure".format(fmt(cpu, 1)), "the client itself"
            w("| caller CPU per call (sequential) | {} | {} | {} |".format(impl, text, verdict))
        if client_floor:
            w(
                "| caller CPU per call (sequential) | {} | {} µs | the kernel's socket work and one encode and "
                "decode per message: what no client can skip |".format(FLOOR, fmt(client_floor["cpu_us_per_call"], 1))
            )
        w("| idle RSS | both | – | the client itself |")
        w("")
        if client_floor and client_floor.get("cpu_us_per_call"):
            w(
                "Caller CPU per sequential call: ours {} µs, the client floor {} µs, swampyer's {} µs: "
                "ours spends {} µs per call above what no client calling through the kernel's sockets "
                "can avoid.".format(
                    fmt(ours["cpu_us_per_call"], 1),
                    fmt(client_floor["cpu_us_per_call"], 1),
                    fmt(theirs["cpu_us_per_call"], 1),
                    fmt(max(0.0, ours["cpu_us_per_call"] - client_floor["cpu_us_per_call"]), 1),
                )
            )
            w("")
        floor = ours.get("sequential.router_us_per_call")
        ceiling = 1e6 / ours["threaded.router_us_per_call"] if ours.get("threaded.router_us_per_call") else None
        w(
            "Router floor for a sequential call: {} µs (router CPU per call); our p50 is {} µs, swampyer's {} µs. "
            "Router ceiling for the threaded phase at the router's CPU cost per call under load ({} µs): "
            "{} calls/s if the router had a core to itself; 1.2 × swampyer's figure would be {} calls/s.".format(
                fmt(floor),
                fmt(ours["p50_us"]),
                fmt(theirs["p50_us"]),
                fmt(ours.get("threaded.router_us_per_call")),
                fmt(ceiling),
                fmt(1.2 * theirs["threaded_calls_per_s"]) if theirs.get("threaded_calls_per_s") else "–",
            )
        )
        w("")

        w("<details><summary>Every round</summary>")
        w("")
        w(
            "| round | client | p50 µs | p99 µs | seq calls/s | threaded calls/s | 1 MiB ms | CPU µs/call "
            "| router µs/call (seq) | idle RSS KiB | other processes, cores (seq / threaded) |"
        )
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for impl in (RUST, SWAMPYER, FLOOR):
            for n, r, e in runs.get(impl, []):
                if not r:
                    w("| {} | {} | failed | | | | | | | | |".format(n, impl))
                    continue
                d = derived(r)
                w(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |".format(
                        n,
                        impl,
                        fmt(r["p50_us"]),
                        fmt(r["p99_us"]),
                        fmt(r["seq_calls_per_s"]),
                        fmt(r["threaded_calls_per_s"]),
                        fmt(r["big_mean_ms"], 1),
                        fmt(r["cpu_us_per_call"], 1),
                        fmt(d.get("sequential.router_us_per_call")),
                        fmt(r.get("idle_rss_kib")),
                        fmt(d.get("sequential.others_cores"), 2),
                        fmt(d.get("threaded.others_cores"), 2),
                    )
                )
        w("")
        w("</details>")
        w("")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="CI smoke test: a handful of calls, no report")
    p.add_argument("--configs", default="ws:cbor:3,tcp:cbor:3", help="ENDPOINT:SERIALIZER:ROUNDS,... (endpoints: ws, tcp, unix)")
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--big-calls", type=int, default=30)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--callee", choices=[RUST, SWAMPYER], default=RUST, help="which program serves the echo procedure")
    p.add_argument(
        "--peer-rounds",
        type=int,
        default=0,
        help="also compare threaded throughput with wamp_async 0.3.1 (builds benches/peers/wamp_async_bench)",
    )
    p.add_argument(
        "--peer-cross",
        action="store_true",
        help="with --peer-rounds: also let each caller call the other's callee (MessagePack)",
    )
    p.add_argument(
        "--js-rounds",
        type=int,
        default=0,
        help="also compare with Autobahn|JS (Node.js) as a caller against our callee, this many rounds per "
        "configuration (runs npm ci in benches/peers/autobahn_js; skipped where node or npm is missing)",
    )
    p.add_argument(
        "--callee-rounds",
        type=int,
        default=0,
        help="also compare callees (ours, swampyer's, the callee floor) under our caller, this many rounds each",
    )
    p.add_argument("--out", default=default_path("peers.md"), help="the report (rewritten whole)")
    p.add_argument("--json", help="also write every raw report to this file")
    p.add_argument("--profile", choices=["release", "debug"], help="cargo profile (default: release; debug with --smoke)")
    p.add_argument(
        "--binary", help="use this bench binary (and the bench_floor beside it, if any) instead of building one"
    )
    p.add_argument("--baseline", help="also run this earlier bench binary as a caller (and a callee, with --callee-rounds) and report before/after")
    args = p.parse_args()
    if args.profile is None:
        args.profile = "debug" if args.smoke else "release"

    python = sys.executable
    command_line = "bash benches/peers/run.sh" + ("" if len(sys.argv) == 1 else " " + shlex.join(sys.argv[1:]))

    # a SIGTERM ends the run through the finally blocks, which stop the router and callee
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        return smoke(args, python)
    return full(args, python, command_line)


if __name__ == "__main__":
    sys.exit(main())
