"""Recovery benchmark: how soon a service answers again after its router crashed and came
back, izaber-wamp (Rust, examples/bench_recovery.rs, default reconnect settings) against Python
swampyer as izaber-wamp sets it up (swampyer_recovery.py), in the same run.

Run with the router venv's python, or through recovery.sh, which finds it:

    bash benches/peers/recovery.sh            # full benchmark, writes benches/results/recovery.md (~8 minutes)
    bash benches/peers/recovery.sh --smoke    # CI: one short outage of each kind (< 1 minute)

One test router (tests/router/router.py) on 127.0.0.1; every outage is a SIGKILL of its whole
process group, D seconds down, and a start on the same ports. A prober (bench_recovery probe,
started while the router is down) tries a fresh login every 10 ms: router-ready is the first
that succeeds; it also records when the TCP port first accepts. Scenarios:

  a. restart: our callee and swampyer's both connected (different procedures and users);
     time from router-ready to each procedure's first answer (the prober calls it every 10 ms;
     wamp.error.no_such_procedure means not yet), for outages of 2, 10 and 60 s, 3 times each.
  b. restore at scale: one callee with N registrations and N subscriptions (N = 1, 100, 1000),
     ours then swampyer's, each with the router to itself; time from router-ready until the
     router's meta API shows that the callee's session holds all N registrations and all N
     subscriptions, and the router worker's CPU in that window.
  c. herd: 50 of our clients in one process; after a short outage, how spread out their
     rejoins were and the router worker's CPU in the first 3 s after router-ready.

CPU is read from /proc (schedstat of every thread, as run.py and the bench programs do) every
10 ms by this runner for the router worker and the callees, and interpolated at the instants
that matter. The report goes to benches/results/recovery.md (--out), which each run rewrites
whole; BENCHMARKS.md quotes its headline figures. --smoke writes nothing and fails only when a
client never came back: this is a benchmark, not a timed test.
"""

import argparse
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SWAMPYER_RECOVERY = os.path.join(HERE, "swampyer_recovery.py")

sys.path.insert(0, os.path.join(ROOT, "tests", "router"))
from router_process import launch_router, live_group_members  # noqa: E402

sys.path.insert(0, os.path.dirname(HERE))
from report_file import client_source, cpu_model, default_path, work_tree, write_report  # noqa: E402

sys.path.insert(0, HERE)
from run import start_program  # noqa: E402  (the calls runner's way to start a program)

RUST = "rust-izaber-wamp"
SWAMPYER = "python-swampyer"
IMPLS = (RUST, SWAMPYER)

PROBER = ("trust-1", "trust-1-secret")  # trust: may call the router's meta API (wamp.*)
CALLEE_USER = {RUST: ("backend-2", "backend-2-secret"), SWAMPYER: ("backend-3", "backend-3-secret")}
HERD_USER = ("backend-1", "backend-1-secret")
PROCEDURE = {
    RUST: "com.izaber.wamp.recovery.rust.ping",
    SWAMPYER: "com.izaber.wamp.recovery.swampyer.ping",
}

PROBE_INTERVAL_MS = 10
SAMPLE_INTERVAL = 0.01
HERD_CPU_WINDOW = 3.0  # seconds after router-ready
ONE_SECOND = 1.0  # the bound a callee should be back within, after router-ready
NS_PER_TICK = 10_000_000


def log(*args):
    print("recovery.py:", *args, file=sys.stderr, flush=True)


# --- CPU ---------------------------------------------------------------------------------------


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
            with open("/proc/{}/stat".format(pid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return sched, ticks


def machine_busy_ticks():
    with open("/proc/stat") as f:
        t = [int(x) for x in f.readline().split()[1:]] + [0] * 10
    return t[0] + t[1] + t[2] + t[5] + t[6]


def cpu_seconds(d_sched, d_ticks):
    """As bench_support's Cpu::since: schedstat, unless the ticks say clearly more (threads
    that ran and exited in between are missing from the schedstat sum)."""
    ticks_ns = d_ticks * NS_PER_TICK
    ns = ticks_ns if ticks_ns > d_sched + d_sched / 10 + 2 * NS_PER_TICK else d_sched
    return max(0.0, ns / 1e9)


def crossbar_workers(pgid):
    pids = []
    for pid in live_group_members(pgid):
        try:
            with open("/proc/{}/cmdline".format(pid), "rb") as f:
                cmdline = f.read().replace(b"\0", b" ")
        except OSError:
            continue
        if b"crossbar-worker" in cmdline or b"crossbar.worker" in cmdline:
            pids.append(pid)
    return pids


class Sampler(threading.Thread):
    """Samples, every 10 ms, the CPU of the router worker (found anew in the router's current
    process group) and of other processes, and the whole machine's busy time."""

    def __init__(self, router, others):
        super().__init__(daemon=True)
        self.router = router
        self.others = dict(others)  # label -> pid
        self.samples = []  # (t, {label: (sched_ns, ticks)})
        self.halt = threading.Event()
        self._pgid = None
        self._workers = []

    def _worker_pids(self):
        proc = self.router.process.proc
        if proc is None:
            return []
        gone = not self._workers or not all(os.path.exists("/proc/{}".format(p)) for p in self._workers)
        if proc.pid != self._pgid or gone:
            self._pgid = proc.pid
            self._workers = crossbar_workers(proc.pid)
        return self._workers

    def run(self):
        while not self.halt.is_set():
            row = {}
            workers = self._worker_pids()
            if workers:
                row["router"] = read_cpu(workers)
            for label, pid in self.others.items():
                row[label] = read_cpu([pid])
            row["machine"] = (0, machine_busy_ticks())
            self.samples.append((time.time(), row))
            self.halt.wait(SAMPLE_INTERVAL)

    def stop(self):
        self.halt.set()
        self.join(timeout=5)

    def _at(self, label, t):
        """(sched, ticks) of `label` at time t, interpolated; (0, 0) before the process was
        first seen (a router worker is born with zero CPU)."""
        points = [(st, row[label]) for st, row in self.samples if label in row]
        if not points or t <= points[0][0]:
            # the worker did not exist yet when sampling began: it starts from zero
            return (0, 0) if label == "router" else (points[0][1] if points else (0, 0))
        for (t0, v0), (t1, v1) in zip(points, points[1:]):
            if t0 <= t <= t1:
                f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
                return (v0[0] + f * (v1[0] - v0[0]), v0[1] + f * (v1[1] - v0[1]))
        return points[-1][1]

    def cpu(self, label, t0, t1):
        """CPU seconds `label` used between wall-clock times t0 and t1, or None."""
        if t0 is None or t1 is None or not any(label in row for _, row in self.samples):
            return None
        a, b = self._at(label, t0), self._at(label, t1)
        if label == "machine":
            return max(0.0, (b[1] - a[1]) * NS_PER_TICK / 1e9)
        return cpu_seconds(b[0] - a[0], b[1] - a[1])


# --- processes ---------------------------------------------------------------------------------


class Peer:
    """A peer program in its own session; every JSON stdout line is an event. Stopped by
    closing its stdin, then SIGTERM, then SIGKILL, by its pid."""

    def __init__(self, name, command):
        self.name = name
        self.command = command
        self.proc = start_program(command, stdin=subprocess.PIPE)
        self.events = []
        self.stderr = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            with self.changed:
                if isinstance(event, dict) and "event" in event:
                    self.events.append(event)
                else:
                    self.stderr.append("(stdout) " + line)
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def wait_event(self, name, timeout):
        """The first event called `name`; raises after `timeout` s or if the peer exited."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for event in self.events:
                    if event["event"] == name:
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and self.proc.stdout.closed):
                    break
                if self.proc.poll() is not None:
                    # exited: give the reader a moment to drain what it printed
                    self.changed.wait(min(left, 0.5))
                    if not any(e["event"] == name for e in self.events):
                        break
                    continue
                self.changed.wait(min(left, 0.5))
        raise RuntimeError(
            "{}: no {!r} line within {:.0f} s (exit status {}): {}\nstderr:\n{}".format(
                self.name, name, timeout, self.proc.poll(), shlex.join(self.command), self.stderr_tail()
            )
        )

    def joins_after(self, t):
        return [e["t"] for e in list(self.events) if e["event"] == "join" and e["t"] > t]

    def stderr_tail(self, chars=2000):
        return "".join(self.stderr)[-chars:]

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def stop(self, grace=5.0):
        self.close_stdin()
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Router:
    """The test router, restarted on the same ports after each crash; it stops itself if this
    runner dies (router.py --watch-parent)."""

    def __init__(self):
        self.process = launch_router(watch_parent=os.getpid())
        self.info = self.process.info
        self.url = self.info["urls"]["ws"]
        self.tcp = "127.0.0.1:{}".format(self.info["ports"]["ws"])

    def kill(self):
        """SIGKILL the whole process group (a crash); returns once every process is gone."""
        self.process.kill()

    def start(self, attempts=3):
        for attempt in range(attempts):
            try:
                self.process.start()
                return
            except RuntimeError:
                if "Address already in use" not in self.process.log_tail(200) or attempt == attempts - 1:
                    raise
                self.process.kill()
                time.sleep(0.5)

    def stop(self):
        if self.process is not None:
            self.process.stop()
            import shutil

            shutil.rmtree(self.process.dir, ignore_errors=True)
            self.process = None


# --- one outage --------------------------------------------------------------------------------


class Outage:
    """Kills the router, keeps it down `down_s`, starts the prober, restarts the router on the
    same ports while sampling CPU, and collects the prober's result."""

    def __init__(self, bench, router, down_s, probe_args, sample, timeout, keep_sampling=0.0):
        self.down_s = down_s
        self.t_kill = time.time()
        router.kill()
        self.t_gone = time.time()
        time.sleep(max(0.0, self.t_kill + down_s - time.time()))
        cmd = bench + [
            "probe",
            "--url",
            router.url,
            "--user",
            PROBER[0],
            "--password",
            PROBER[1],
            "--tcp",
            router.tcp,
            "--interval-ms",
            str(PROBE_INTERVAL_MS),
            "--timeout",
            str(timeout),
        ] + probe_args
        prober = Peer("prober", cmd)
        self.sampler = Sampler(router, sample)
        try:
            prober.wait_event("waiting", 30)
            self.sampler.start()
            self.t_restart = time.time()
            router.start()
            self.t_listening = time.time()  # router_process saw every endpoint accept
            self.result = prober.wait_event("result", timeout + 30)
            self.ready_t = self.result.get("ready_t")
            if self.ready_t is not None:
                time.sleep(max(0.0, self.ready_t + keep_sampling - time.time()))
        finally:
            self.sampler.stop()
            prober.stop()
        if not self.result.get("ok"):
            raise RuntimeError("the prober never logged in after the restart: {}".format(self.result))

    def after_ready(self, t):
        return None if t is None or self.ready_t is None else t - self.ready_t

    def timeline(self):
        r = self.result
        return {
            "measured_down_s": self.t_restart - self.t_kill,
            "startup_to_accept_s": None if r.get("tcp_accept_t") is None else r["tcp_accept_t"] - self.t_restart,
            "startup_to_ready_s": self.ready_t - self.t_restart,
            "accept_to_ready_s": None if r.get("tcp_accept_t") is None else self.ready_t - r["tcp_accept_t"],
            "ready_login_s": self.ready_t - r["ready_attempt_t"],
            "startup_router_cpu_s": self.sampler.cpu("router", self.t_restart, self.ready_t),
            "login_attempts": r.get("attempts"),
        }


# --- the scenarios -----------------------------------------------------------------------------


def callee_command(programs, impl, url, n=None):
    """A callee with one procedure, or with N registrations and N subscriptions."""
    user, password = CALLEE_USER[impl]
    args = ["callee", "--url", url, "--user", user, "--password", password, "--procedure", PROCEDURE[impl]]
    if n is not None:
        args += ["--registrations", str(n), "--subscriptions", str(n)]
    return programs[impl] + args


def start_callee(programs, impl, url, n=None):
    callee = Peer(impl + " callee", callee_command(programs, impl, url, n))
    try:
        callee.wait_event("ready", 60 + (n or 1) * 0.05)
    except RuntimeError:
        callee.stop()
        raise
    return callee


def restart_scenario(args, programs, router):
    """a. Both callees connected; per outage, each one's first answer after router-ready."""
    rows = []
    callees = {impl: start_callee(programs, impl, router.url) for impl in IMPLS}
    try:
        for rep in range(args.repeats):
            for down in args.outages:
                log("restart: outage {} s, round {}/{}".format(down, rep + 1, args.repeats))
                for impl in IMPLS:
                    if not callees[impl].alive():
                        log("{} callee had exited; starting a new one".format(impl))
                        callees[impl] = start_callee(programs, impl, router.url)
                probes = [a for impl in IMPLS for a in ("--procedure", PROCEDURE[impl])]
                sample = {impl: callees[impl].pid for impl in IMPLS}
                out = Outage(programs["bench"], router, down, probes, sample, timeout=args.probe_timeout)
                for impl in IMPLS:
                    answer = (out.result.get("answers") or {}).get(PROCEDURE[impl]) or {}
                    joins = callees[impl].joins_after(out.t_kill)
                    t_answer = answer.get("t")
                    row = {
                        "impl": impl,
                        "down_s": down,
                        "round": rep + 1,
                        "answer_after_ready_s": out.after_ready(t_answer),
                        "join_after_ready_s": out.after_ready(joins[0]) if joins else None,
                        "joins": len(joins),
                        "errors": answer.get("errors"),
                        "callee_cpu_s": out.sampler.cpu(impl, out.ready_t, t_answer),
                        "router_cpu_s": out.sampler.cpu("router", out.ready_t, t_answer),
                        "router_cpu_restore_s": out.sampler.cpu("router", joins[0] if joins else None, t_answer),
                        "callee_cpu_restore_s": out.sampler.cpu(impl, joins[0] if joins else None, t_answer),
                        "machine_cpu_restore_s": out.sampler.cpu("machine", joins[0] if joins else None, t_answer),
                        "callee_exited": not callees[impl].alive(),
                    }
                    row.update(out.timeline())
                    rows.append(row)
                    log(
                        "  {}: answered {} after router-ready (rejoined {})".format(
                            impl, fmt_s(row["answer_after_ready_s"]), fmt_s(row["join_after_ready_s"])
                        )
                    )
                    if t_answer is None:
                        # never came back: a fresh one for the next rounds, so one failure costs one
                        log("  {} callee never answered; its stderr:\n{}".format(impl, callees[impl].stderr_tail()))
                        callees[impl].stop()
                        callees[impl] = start_callee(programs, impl, router.url)
                time.sleep(args.settle)
    finally:
        for callee in callees.values():
            callee.stop()
    return rows


def restore_scenario(args, programs, router):
    """b. One callee with N registrations and N subscriptions; router-ready until the router
    holds them all. `args.restore_groups`: callees that share an outage (full mode: one)."""
    rows = []
    for rep in range(args.restore_repeats):
        for n in args.restore_sizes:
            for group in args.restore_groups:
                log("restore: N = {} ({}), round {}/{}".format(n, " + ".join(group), rep + 1, args.restore_repeats))
                callees = {}
                try:
                    for impl in group:
                        callees[impl] = start_callee(programs, impl, router.url, n)
                    time.sleep(args.settle)
                    probes = []
                    for impl in group:
                        probes += ["--procedure", PROCEDURE[impl], "--restore", "{}:{}:{}".format(PROCEDURE[impl], n, n)]
                    sample = {impl: callees[impl].pid for impl in group}
                    timeout = args.probe_timeout + n * 0.06
                    out = Outage(programs["bench"], router, args.restore_outage, probes, sample, timeout=timeout)
                    for impl in group:
                        restore = (out.result.get("restore") or {}).get(PROCEDURE[impl]) or {}
                        answer = (out.result.get("answers") or {}).get(PROCEDURE[impl]) or {}
                        joins = callees[impl].joins_after(out.t_kill)
                        t_done = restore.get("t")
                        t_join = joins[0] if joins else None
                        row = {
                            "impl": impl,
                            "n": n,
                            "round": rep + 1,
                            "restored_after_ready_s": out.after_ready(t_done),
                            "join_after_ready_s": out.after_ready(t_join),
                            "first_answer_after_ready_s": out.after_ready(answer.get("t")),
                            "restore_after_join_s": None if t_done is None or t_join is None else t_done - t_join,
                            "router_cpu_s": out.sampler.cpu("router", out.ready_t, t_done),
                            "router_cpu_join_to_done_s": out.sampler.cpu("router", t_join, t_done),
                            "callee_cpu_s": out.sampler.cpu(impl, out.ready_t, t_done),
                            "callee_cpu_join_to_done_s": out.sampler.cpu(impl, t_join, t_done),
                            "machine_cpu_join_to_done_s": out.sampler.cpu("machine", t_join, t_done),
                            "machine_cpu_s": out.sampler.cpu("machine", out.ready_t, t_done),
                            "last_counts": restore.get("last_counts"),
                            "missing": (restore.get("missing_registrations") or 0) + (restore.get("missing_subscriptions") or 0),
                            "meta_polls": restore.get("polls"),
                            "shared_outage_with": [i for i in group if i != impl],
                        }
                        row.update(out.timeline())
                        rows.append(row)
                        log(
                            "  {}: N = {} restored {} after router-ready (router CPU {} s)".format(
                                impl, n, fmt_s(row["restored_after_ready_s"]), fmt_s(row["router_cpu_s"])
                            )
                        )
                finally:
                    for callee in callees.values():
                        callee.stop()
    return rows


def herd_scenario(args, programs, router):
    """c. `args.herd` of our clients in one process; how spread out their rejoins were."""
    rows = []
    for rep in range(args.herd_repeats):
        log("herd: {} clients, outage {} s, round {}/{}".format(args.herd, args.herd_outage, rep + 1, args.herd_repeats))
        cmd = programs["bench"] + [
            "herd",
            "--url",
            router.url,
            "--user",
            HERD_USER[0],
            "--password",
            HERD_USER[1],
            "--clients",
            str(args.herd),
        ]
        herd = Peer("herd", cmd)
        try:
            herd.wait_event("ready", 60 + args.herd)
            time.sleep(args.settle)
            probes = ["--sessions", "backend:{}".format(args.herd)]
            out = Outage(
                programs["bench"],
                router,
                args.herd_outage,
                probes,
                {"herd": herd.pid},
                timeout=args.probe_timeout,
                keep_sampling=HERD_CPU_WINDOW,
            )
            herd.close_stdin()
            report = herd.wait_event("joins", 30)
        finally:
            herd.stop()
        rejoins = []
        for joins in report["joins"]:
            later = [t for t in joins if t > out.t_kill]
            rejoins.append(out.after_ready(later[0]) if later else None)
        back = sorted(r for r in rejoins if r is not None)
        sessions = out.result.get("sessions") or {}
        row = {
            "clients": args.herd,
            "round": rep + 1,
            "back": len(back),
            "first_s": back[0] if back else None,
            "median_s": statistics.median(back) if back else None,
            "last_s": back[-1] if back else None,
            "router_sessions_all_s": out.after_ready(sessions.get("t")),
            "router_cpu_window_s": out.sampler.cpu("router", out.ready_t, out.ready_t + HERD_CPU_WINDOW),
            "herd_cpu_window_s": out.sampler.cpu("herd", out.ready_t, out.ready_t + HERD_CPU_WINDOW),
            "machine_cpu_window_s": out.sampler.cpu("machine", out.ready_t, out.ready_t + HERD_CPU_WINDOW),
            "rejoins_after_ready_s": rejoins,
        }
        row.update(out.timeline())
        rows.append(row)
        log(
            "  {}/{} back; first {}, median {}, last {} after router-ready".format(
                row["back"], args.herd, fmt_s(row["first_s"]), fmt_s(row["median_s"]), fmt_s(row["last_s"])
            )
        )
    return rows


# --- the report --------------------------------------------------------------------------------


def fmt_s(x, digits=3):
    return "–" if x is None else "{:.{}f}".format(x, digits)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def worst(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def machine_info():
    def cmd(*a):
        try:
            return subprocess.run(a, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return "?"

    def version(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "?"

    cpu = cpu_model()
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
        "client": client_source(),
    }


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def phase_bound(wait, restore, router_cpu=None, client_cpu=None, machine_cpu=None, nproc=None):
    """What bounds a callee's time after router-ready. It has two parts: waiting for its next
    retry (router-ready → its join) and restoring (join → answering / restored). `*_cpu` are
    CPU seconds over the restore part."""
    if wait is None or restore is None:
        return "–"
    total = wait + restore
    if total <= 2.5 * PROBE_INTERVAL_MS / 1000:
        return "nothing measurable: back within the prober's resolution"
    if wait >= restore:
        return "client's retry interval (rejoin {} s of it)".format(fmt_s(wait, 2))
    share = lambda cpu: cpu / restore if cpu is not None and restore > 0 else 0.0  # noqa: E731
    if nproc and machine_cpu is not None and share(machine_cpu) >= 0.9 * nproc:
        return "machine CPU: all {} cores busy during the restore".format(nproc)
    if share(router_cpu) >= 0.7:
        return "router CPU ({:.0%} busy during the restore)".format(share(router_cpu))
    if share(client_cpu) >= 0.7:
        return "client CPU ({:.0%} busy during the restore)".format(share(client_cpu))
    return "restore round trips (router {:.0%}, client {:.0%} busy during the {} s restore)".format(
        share(router_cpu), share(client_cpu), fmt_s(restore, 2)
    )


def render(args, info, swampyer_info, results, command_line, load_before, load_after, elapsed):
    out = []
    w = out.append
    w("# Recovery after a router crash: izaber-wamp (Rust) vs swampyer (Python)")
    w("")
    w("Generated by `benches/peers/recovery.py` on {} in {:.0f} s; each run rewrites this file whole. Reproduce:".format(time.strftime("%Y-%m-%d %H:%M %Z"), elapsed))
    w("")
    w("```sh")
    w(command_line)
    w("```")
    w("")
    w("| | |")
    w("|---|---|")
    w("| CPUs (`nproc`) / CPU | {} / {} |".format(info["nproc"], info["cpu"]))
    w("| load average (1/5/15 min) before → after | {} → {} |".format(load_before, load_after))
    w("| kernel / rustc | {} / {} |".format(info["kernel"], info["rustc"]))
    w("| Python / swampyer / crossbar | {} / {} / {} |".format(info["python"], info["swampyer"], info["crossbar"]))
    w("| client source (last commit of `src/`, `Cargo.*`) | {} |".format(info["client"]))
    w("| worktree | {} |".format(info["commit"]))
    w(
        "| clients | ours: `bench_recovery` with the library's default reconnect policy; swampyer: made by "
        "izaber-wamp's `WAMP.configure()`, `auto_reconnect` = {} (not set, swampyer's default), serializer {} |".format(
            swampyer_info.get("auto_reconnect", "?"), "/".join(swampyer_info.get("serializers") or ["?"])
        )
    )
    w("")
    w(
        "**Method.** One Crossbar.io test router on 127.0.0.1, WebSocket endpoint. Each outage: SIGKILL of the "
        "router's whole process group, D seconds down (from the kill to the restart), then a start on the same "
        "ports. **Router-ready** is the first moment a fresh login succeeds: a prober (`bench_recovery probe`, "
        "started while the router is down) makes a fresh client with a 1 s connect timeout every {} ms (TCP, "
        "WebSocket handshake, HELLO, ticket CHALLENGE answered by the router's dynamic authenticator, WELCOME); "
        "ready is when its WELCOME arrived. It also records when the TCP port first accepts. After that the "
        "prober calls each callee's procedure every {} ms on its session (`wamp.error.no_such_procedure`: not "
        "yet); the time of the first answer is the figure. Times are wall-clock (all processes on one machine), "
        "resolution about {} ms. CPU: schedstat of every thread in /proc, sampled every {} ms and interpolated. "
        "Router CPU is the crossbar router worker (the Nexus component runs inside it); it includes the "
        "prober's own polling.".format(PROBE_INTERVAL_MS, PROBE_INTERVAL_MS, PROBE_INTERVAL_MS + 2, int(SAMPLE_INTERVAL * 1000))
    )
    w("")

    rows = results.get("restart")
    if rows is not None:
        w("## a. Restart: first answer after router-ready")
        w("")
        w(
            "Both callees connected at once (ours as backend-2, swampyer's as backend-3, one procedure each), "
            "{} round(s) per outage. *Rejoin*: when the callee's own join hook ran (its WELCOME). The 1 s "
            "bound holds when the worst first answer is ≤ {:.1f} s after router-ready.".format(args.repeats, ONE_SECOND)
        )
        w("")
        w("| outage | client | back | first answer, median | worst | ≤ 1 s? | rejoin, median | bounded by |")
        w("|---:|---|---:|---:|---:|---|---:|---|")
        for down in args.outages:
            for impl in IMPLS:
                rs = [r for r in rows if r["impl"] == impl and r["down_s"] == down]
                if not rs:
                    continue
                answers = [r["answer_after_ready_s"] for r in rs]
                back = sum(a is not None for a in answers)
                wst = worst(answers)
                ok = back == len(rs) and wst is not None and wst <= ONE_SECOND
                med_join = median([r["join_after_ready_s"] for r in rs])
                med_answer = median(answers)
                bound = phase_bound(
                    med_join,
                    None if med_answer is None or med_join is None else med_answer - med_join,
                    median([r["router_cpu_restore_s"] for r in rs]),
                    median([r["callee_cpu_restore_s"] for r in rs]),
                    median([r["machine_cpu_restore_s"] for r in rs]),
                    info["nproc"],
                )
                w(
                    "| {:g} s | {} | {}/{} | {} s | {} s | {} | {} s | {} |".format(
                        down, impl, back, len(rs), fmt_s(med_answer), fmt_s(wst), "**yes**" if ok else "**NO**",
                        fmt_s(med_join), bound,
                    )
                )
        w("")
        starts = [r for r in rows if r["impl"] == RUST]
        w(
            "Router start-up (restart → router-ready), median over {} restarts: {} s (port accepting after {} s; "
            "ready {} s after it first accepted), router worker CPU until ready {} s. That is the floor under "
            "every figure measured from the kill; figures above start at router-ready.".format(
                len(starts),
                fmt_s(median([r["startup_to_ready_s"] for r in starts]), 2),
                fmt_s(median([r["startup_to_accept_s"] for r in starts]), 2),
                fmt_s(median([r["accept_to_ready_s"] for r in starts])),
                fmt_s(median([r["startup_router_cpu_s"] for r in starts]), 2),
            )
        )
        w("")

    rows = results.get("restore")
    if rows is not None:
        w("## b. Restore at scale: everything back at the router")
        w("")
        w(
            "One callee at a time with N registrations and N subscriptions (distinct URIs), outage {} s. "
            "*Restored*: the router's meta API shows that the callee's session holds N registrations "
            "(`wamp.registration.list(session)`) and N subscriptions (`wamp.subscription.list(session)`), polled "
            "every {} ms by the trusted prober, which finds the session through `wamp.registration.lookup` + "
            "`list_callees` of the callee's first procedure; afterwards every one of the 2N URIs is checked with "
            "`wamp.registration.lookup` / `wamp.subscription.lookup` (*missing* column). Router CPU: the router "
            "worker between router-ready and restored; *router busy* is that CPU over the same wall time.".format(
                args.restore_outage, PROBE_INTERVAL_MS
            )
        )
        w("")
        w(
            "| N | client | restored after ready, median | rejoin | rejoin → restored | router CPU | router busy "
            "| client CPU | missing | bounded by |"
        )
        w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for n in args.restore_sizes:
            for impl in IMPLS:
                rs = [r for r in rows if r["impl"] == impl and r["n"] == n]
                if not rs:
                    continue
                done = median([r["restored_after_ready_s"] for r in rs])
                join = median([r["join_after_ready_s"] for r in rs])
                restore = median([r["restore_after_join_s"] for r in rs])
                cpu = median([r["router_cpu_s"] for r in rs])
                busy = None if cpu is None or not done else cpu / done
                never = sum(r["restored_after_ready_s"] is None for r in rs)
                w(
                    "| {} | {} | {} s{} | {} s | {} s | {} s | {} | {} s | {} | {} |".format(
                        n, impl, fmt_s(done), " ({} never)".format(never) if never else "", fmt_s(join), fmt_s(restore),
                        fmt_s(cpu), "–" if busy is None else "{:.0%}".format(busy),
                        fmt_s(median([r["callee_cpu_s"] for r in rs])), sum(r["missing"] for r in rs),
                        phase_bound(
                            join,
                            restore,
                            median([r["router_cpu_join_to_done_s"] for r in rs]),
                            median([r["callee_cpu_join_to_done_s"] for r in rs]),
                            median([r["machine_cpu_join_to_done_s"] for r in rs]),
                            info["nproc"],
                        ),
                    )
                )
        w("")
        # growth with N: does our time grow faster than the router's own work?
        for impl in IMPLS:
            pts = []
            for n in args.restore_sizes:
                rs = [r for r in rows if r["impl"] == impl and r["n"] == n]
                restore = median([r["restore_after_join_s"] for r in rs])
                cpu = median([r["router_cpu_join_to_done_s"] for r in rs])
                if restore is not None and cpu is not None:
                    pts.append((n, restore, cpu))
            if len(pts) >= 2:
                (n0, t0, c0), (n1, t1, c1) = pts[0], pts[-1]
                w(
                    "- {}: from N = {} to N = {} the restore (rejoin → restored) went {} s → {} s (+{} s) while the "
                    "router worker's CPU over it went {} s → {} s (+{} s): {}.".format(
                        impl, n0, n1, fmt_s(t0), fmt_s(t1), fmt_s(t1 - t0), fmt_s(c0), fmt_s(c1), fmt_s(c1 - c0),
                        "the time grew no faster than the router's work (ratio {:.2f})".format((t1 - t0) / (c1 - c0))
                        if c1 - c0 > 0 and t1 - t0 <= 1.25 * (c1 - c0)
                        else "the time grew faster than the router's work"
                        + (" (ratio {:.2f})".format((t1 - t0) / (c1 - c0)) if c1 - c0 > 0 else ""),
                    )
                )
        w("")

    rows = results.get("herd")
    if rows is not None:
        w("## c. Herd: {} of our clients in one process".format(args.herd))
        w("")
        w(
            "All connected (one process, backend-1) when the router died; outage {} s. Rejoin: each client's "
            "first join hook after the kill, relative to router-ready. *Router sees all*: when "
            "`wamp.session.count(['backend'])` first reached {} (polled every {} ms). CPU over the first {:.0f} s "
            "after router-ready.".format(args.herd_outage, args.herd, PROBE_INTERVAL_MS, HERD_CPU_WINDOW)
        )
        w("")
        w("| round | back | first | median | last | router sees all | router CPU in 3 s | herd CPU in 3 s | whole machine in 3 s |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            w(
                "| {} | {}/{} | {} s | {} s | {} s | {} s | {} s | {} s | {} of {} cores |".format(
                    r["round"], r["back"], r["clients"], fmt_s(r["first_s"]), fmt_s(r["median_s"]), fmt_s(r["last_s"]),
                    fmt_s(r["router_sessions_all_s"]), fmt_s(r["router_cpu_window_s"], 2),
                    fmt_s(r["herd_cpu_window_s"], 2),
                    "–" if r["machine_cpu_window_s"] is None else "{:.2f}".format(r["machine_cpu_window_s"] / HERD_CPU_WINDOW),
                    info["nproc"],
                )
            )
        w("")
        w(
            "The spread (first → last) is the clients' retry jitter plus the router's login work for {} sessions "
            "(dynamic authenticator call each): compare it with the router CPU in the window.".format(args.herd)
        )
        w("")

    w("<details><summary>Every outage</summary>")
    w("")
    w("```json")
    for name, rows in results.items():
        for r in rows:
            slim = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "rejoins_after_ready_s"}
            w(json.dumps(dict(scenario=name, **slim)))
    w("```")
    w("")
    w("</details>")
    return "\n".join(out)


# --- main --------------------------------------------------------------------------------------


def build(profile):
    cmd = ["cargo", "build", "--quiet", "--locked", "--example", "bench_recovery"]
    if profile == "release":
        cmd.insert(2, "--release")
    log("building:", shlex.join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True, timeout=1800)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    path = os.path.join(target, profile, "examples", "bench_recovery")
    if not os.path.exists(path):
        raise RuntimeError("built, but {} is missing".format(path))
    return path


def floats(text):
    return [float(x) for x in text.split(",") if x.strip()]


def ints(text):
    return [int(x) for x in text.split(",") if x.strip()]


def failures_of(results):
    """Clients that never came back."""
    problems = []
    for r in results.get("restart", []):
        if r["answer_after_ready_s"] is None:
            problems.append("restart: {} callee never answered after the {} s outage (round {}): {}".format(
                r["impl"], r["down_s"], r["round"], r["errors"]))
    for r in results.get("restore", []):
        if r["restored_after_ready_s"] is None or r["missing"]:
            problems.append("restore: {} callee, N = {}: not all restored (counts {}, {} missing)".format(
                r["impl"], r["n"], r["last_counts"], r["missing"]))
    for r in results.get("herd", []):
        if r["back"] != r["clients"]:
            problems.append("herd: only {}/{} clients rejoined".format(r["back"], r["clients"]))
    return problems


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="CI: one short outage of each kind; writes nothing")
    p.add_argument("--scenarios", default="restart,restore,herd", help="which of restart,restore,herd to run")
    p.add_argument("--outages", type=floats, default=[2.0, 10.0, 60.0], help="restart: outages in seconds (comma-separated)")
    p.add_argument("--repeats", type=int, default=3, help="restart: rounds per outage")
    p.add_argument("--restore-sizes", type=ints, default=[1, 100, 1000], help="restore: N (comma-separated)")
    p.add_argument("--restore-outage", type=float, default=2.0)
    p.add_argument("--restore-repeats", type=int, default=1)
    p.add_argument("--herd", type=int, default=50, help="herd: clients")
    p.add_argument("--herd-outage", type=float, default=2.0)
    p.add_argument("--herd-repeats", type=int, default=1)
    p.add_argument("--probe-timeout", type=float, default=60.0, help="seconds a prober waits for everything to come back")
    p.add_argument("--settle", type=float, default=1.0, help="pause before each outage")
    p.add_argument("--profile", choices=["release", "debug"], help="cargo profile (default release; debug with --smoke)")
    p.add_argument("--binary", help="use this bench_recovery binary instead of building one")
    p.add_argument("--out", default=default_path("recovery.md"), help="the report (rewritten whole)")
    p.add_argument("--json", help="also write every raw figure to this file")
    args = p.parse_args()
    command_line = "bash benches/peers/recovery.sh" + ("" if len(sys.argv) == 1 else " " + shlex.join(sys.argv[1:]))
    if args.smoke:
        args.outages, args.repeats = [1.0], 1
        args.restore_sizes, args.restore_outage, args.restore_repeats = [10], 1.0, 1
        args.herd, args.herd_outage, args.herd_repeats = 5, 1.0, 1
        args.probe_timeout, args.settle = 30.0, 0.3
        # both callees share one outage: the smoke test checks that they come back, not timing
        args.restore_groups = [list(IMPLS)]
    else:
        args.restore_groups = [[impl] for impl in IMPLS]
    if args.profile is None:
        args.profile = "debug" if args.smoke else "release"
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for s in scenarios:
        if s not in ("restart", "restore", "herd"):
            raise SystemExit("unknown scenario {!r}".format(s))

    # a SIGTERM ends the run through the finally blocks, which stop every process we started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    info = machine_info()
    load_before = loadavg()
    bench = args.binary or build(args.profile)
    programs = {"bench": [bench], RUST: [bench], SWAMPYER: [sys.executable, SWAMPYER_RECOVERY]}

    results = {}
    swampyer_info = {}
    router = Router()
    try:
        # what swampyer's client was configured with, from its ready line
        probe = start_callee(programs, SWAMPYER, router.url)
        swampyer_info = probe.wait_event("ready", 1)
        probe.stop()
        if "restart" in scenarios:
            results["restart"] = restart_scenario(args, programs, router)
        if "restore" in scenarios:
            results["restore"] = restore_scenario(args, programs, router)
        if "herd" in scenarios:
            results["herd"] = herd_scenario(args, programs, router)
    finally:
        router.stop()
    elapsed = time.monotonic() - started
    load_after = loadavg()

    text = render(args, info, swampyer_info, results, command_line, load_before, load_after, elapsed)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "swampyer": swampyer_info, "results": results}, f, indent=1)
    problems = failures_of(results)
    for problem in problems:
        log("FAIL", problem)
    if args.smoke:
        log("smoke test took {:.1f} s".format(elapsed))
    else:
        out = args.out if os.path.isabs(args.out) else os.path.join(ROOT, args.out)
        write_report(out, text)
        log("wrote {} ({:.0f} s)".format(out, elapsed))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
