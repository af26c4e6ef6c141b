"""Rolling restarts: does a caller see a failed call while the instances of a shared
procedure are stopped with SIGTERM and started again, one at a time? Writes a table to
benches/results/rolling.md (--output; each run rewrites it whole).

    bash benches/rolling.sh                 # 5 rounds per service kind
    bash benches/rolling.sh --rounds 2      # fewer
    bash benches/rolling.sh --smoke         # 1 round, ours only, writes nothing; fails on a
                                            # failed call (CI runs this)

Two instances of `com.izaber.wamp.bench.rolling.work` (invoke=roundrobin, 50 ms a call) serve
while a load of calls runs (the izaber-wamp command line, 4 at once, until told to stop). A
round stops each instance in turn with SIGTERM, waits for it to end, starts a new one and
waits until it has registered, then waits RESTART_PAUSE before the next. The service kinds:

* ours: examples/bench_service.rs, which ends `main` with `client.run_until_stopped(grace)`;
* the command line: `izaber-wamp register ... --exec`, a command that sleeps 50 ms;
* python-swampyer: benches/peers/swampyer_service.py, a Python service as written today
  (`while True: time.sleep(1)`), which SIGTERM ends at once.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "router"))
from router_process import launch_router  # noqa: E402
from report_file import CLIENT, build_release, default_path, provenance, write_report  # noqa: E402

PROCEDURE = "com.izaber.wamp.bench.rolling.work"
SERVICE_USER = ("backend-1", "backend-1-secret")
CALLER_USER = ("backend-2", "backend-2-secret")
RESTART_PAUSE = 1.0
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def log(*args):
    print("rolling.py:", *args, file=sys.stderr, flush=True)


def build():
    release = build_release(log, ["--example", "bench_service"], ["-p", "izaber-wamp-cli"])
    return os.path.join(release, "examples", "bench_service"), os.path.join(release, "izaber-wamp")


def cli_env(url, user):
    env = dict(os.environ)
    for name in ("IZABER_YAML", "IZABER_ENVIRONMENT", "IZABER_WAMP_CONFIG", "IZABER_WAMP_TIMEOUT"):
        env.pop(name, None)
    env.update({
        "IZABER_WAMP_URL": url,
        "IZABER_WAMP_REALM": "izaber",
        "IZABER_WAMP_USER": user[0],
        "IZABER_WAMP_PASSWORD": user[1],
        "IZABER_WAMP_SERIALIZER": "cbor",
        "RUST_LOG": "warn",
    })
    return env


class Kind:
    """How to start one instance of a service kind."""

    def __init__(self, name, command, env):
        self.name, self.command, self.env = name, command, env

    def start(self):
        proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, env=self.env)
        return Instance(self, proc)


class Instance:
    def __init__(self, kind, proc):
        self.kind, self.proc = kind, proc

    def wait_ready(self):
        """Until the instance serves: its `ready` line, or for the command line the log line
        that says it serves (RUST_LOG=info for it). Then its output is drained on threads, so
        that a full pipe never blocks it."""
        if self.kind.name == "izaber-wamp register":
            ready, lines = "serving", self.proc.stderr
        else:
            ready, lines = "ready", self.proc.stdout
        seen = []
        for line in lines:
            seen.append(line)
            if ready in line:
                break
        else:
            raise RuntimeError("{} did not start: {}".format(self.kind.name, "".join(seen)[-2000:]))
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=stream.read, daemon=True).start()

    def stop(self):
        """SIGTERM, as a service manager stops it; returns (exit code, seconds to end)."""
        started = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return code, time.time() - started

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_kind(kind, cli, url, rounds):
    instances = [kind.start(), kind.start()]
    for instance in instances:
        instance.wait_ready()
    load = subprocess.Popen(
        [cli, "call", PROCEDURE, "--repeat", "100000000", "--concurrency", "4", "--json-summary"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=cli_env(url, CALLER_USER))
    stops = []
    try:
        time.sleep(RESTART_PAUSE)
        for round_ in range(rounds):
            for i in range(len(instances)):
                code, seconds = instances[i].stop()
                stops.append((code, seconds))
                instances[i] = kind.start()
                instances[i].wait_ready()
                time.sleep(RESTART_PAUSE)
            log("{} round {} done".format(kind.name, round_ + 1))
    finally:
        load.send_signal(signal.SIGINT)
        out, err = load.communicate(timeout=60)
        for instance in instances:
            instance.kill()
    try:
        summary = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError("the load printed no summary: {} {}".format(out[-2000:], err[-2000:]))
    return summary, stops


def report(rows, rounds, elapsed, source):
    lines = [
        "# Rolling restarts",
        "",
        "Generated by `benches/rolling.py` on {} in {:.0f} s; reproduce with `bash benches/rolling.sh`;"
        " each run rewrites this file whole. {}".format(
            time.strftime("%Y-%m-%d %H:%M %Z"), elapsed, source),
        "",
        "Two instances of a shared procedure (invoke=roundrobin, 50 ms a call), WebSocket, CBOR;"
        " `izaber-wamp call --repeat --concurrency 4` calls it all along. {} round(s): each instance in"
        " turn is stopped with SIGTERM, started again, and given {:.0f} s.".format(rounds, RESTART_PAUSE),
        "",
        "| service | calls | failed | errors | stop exit codes | longest stop, s |",
        "|---|---|---|---|---|---|",
    ]
    for name, (summary, stops) in rows.items():
        errors = summary.get("errors") or {}
        error_text = ", ".join("{} {}".format(n, kind) for kind, n in errors.items()) or "none"
        codes = sorted({code for code, _ in stops})
        lines.append("| {} | {} | {} | {} | {} | {:.2f} |".format(
            name, summary["ok"] + summary["failed"], summary["failed"], error_text,
            ", ".join(str(c) for c in codes), max(s for _, s in stops)))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--smoke", action="store_true", help="one round of ours; fails on a failed call")
    p.add_argument("--output", default=default_path("rolling.md"), help="the report (rewritten whole)")
    args = p.parse_args()
    # what is measured, taken before the build
    source = provenance(CLIENT + ("cli",))
    service, cli = build()
    rounds = 1 if args.smoke else args.rounds

    started = time.time()
    router = launch_router(watch_parent=os.getpid())
    rows = {}
    try:
        url = router.info["urls"]["ws"]
        service_env = dict(os.environ, RUST_LOG="warn")
        connection = ["--url", url, "--realm", "izaber", "--user", SERVICE_USER[0],
                      "--password", SERVICE_USER[1]]
        kinds = [Kind("ours (run_until_stopped)",
                      [service, "--procedure", PROCEDURE] + connection + ["--serializer", "cbor"],
                      service_env)]
        if not args.smoke:
            cli_service_env = cli_env(url, SERVICE_USER)
            cli_service_env["RUST_LOG"] = "info"
            kinds.append(Kind("izaber-wamp register",
                              [cli, "register", PROCEDURE, "-o", "invoke=roundrobin", "--concurrency", "8",
                               "--exec", "sleep", "0.05"],
                              cli_service_env))
            python = os.path.join(os.path.dirname(sys.executable), "python")
            kinds.append(Kind("python-swampyer",
                              [python, os.path.join(HERE, "peers", "swampyer_service.py"),
                               "--procedure", PROCEDURE] + connection,
                              dict(os.environ)))
        for kind in kinds:
            summary, stops = run_kind(kind, cli, url, rounds)
            rows[kind.name] = (summary, stops)
            log("{}: {} calls, {} failed {}".format(
                kind.name, summary["ok"] + summary["failed"], summary["failed"], summary.get("errors")))
    finally:
        router.stop()
        shutil.rmtree(router.dir, ignore_errors=True)
    text = report(rows, rounds, time.time() - started, source)
    print(text)
    if args.smoke:
        failed = sum(summary["failed"] for summary, _ in rows.values())
        if failed:
            log("FAILED: {} call(s) failed during a rolling restart".format(failed))
            sys.exit(1)
    else:
        write_report(args.output, text)
        log("wrote", args.output)


if __name__ == "__main__":
    main()
