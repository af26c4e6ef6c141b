"""A test router process: `router.py prepare` + `router.py start` in a process group of its
own, with readiness by polling and stopping by signalling the group.

Plain Python (no pytest): used by the pytest fixtures (conftest.py) and by the benchmark
runner (benches/peers/run.py).
"""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTER_PY = os.path.join(HERE, "router.py")

READY_TIMEOUT = 60.0
STOP_GRACE = 15.0


class RouterProcess:
    """A router started with `router.py start`, in its own process group."""

    def __init__(self, directory, info, watch_parent=None):
        self.dir = directory
        self.info = info
        self.log_path = os.path.join(directory, "router.log")
        self.watch_parent = watch_parent
        self.proc = None

    @classmethod
    def create(cls, directory=None, ports=None, watch_parent=None):
        if directory is None:
            # short: the unix socket path lives in here (max ~107 bytes)
            directory = tempfile.mkdtemp(prefix="izr-", dir="/tmp")
        cmd = [sys.executable, ROUTER_PY, "prepare", directory]
        if ports:
            cmd += ["--ports", json.dumps(ports)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout
        return cls(directory, json.loads(out), watch_parent)

    def start(self):
        if self.proc is not None:
            # a restart: the old router must be gone, or the readiness check
            # below could talk to its still-open sockets
            self.wait_gone()
        cmd = [sys.executable, ROUTER_PY, "start", self.dir]
        if self.watch_parent:
            cmd += ["--watch-parent", str(self.watch_parent)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, pgid == pid
            )
        self.wait_ready()
        return self

    def endpoints(self):
        """(kind, address) of every listening endpoint."""
        ports = self.info["ports"]
        eps = [("tcp", ("127.0.0.1", ports[name])) for name in ("ws", "wss", "tcp", "tcps")]
        eps.append(("unix", self.info["unix_socket"]))
        return eps

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Poll until every endpoint accepts a connection; fail with the log otherwise."""
        deadline = time.monotonic() + timeout
        pending = self.endpoints()
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "router exited with status {} before it was ready\n{}".format(
                        self.proc.returncode, self.log_tail()
                    )
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "router not ready after {}s (waiting for {})\n{}".format(timeout, pending, self.log_tail())
                )
            pending = [ep for ep in pending if not accepts(*ep)]
            if pending:
                time.sleep(0.05)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=80):
        return "\n".join(self.log().splitlines()[-lines:])

    def signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def group_alive(self):
        return bool(live_group_members(self.proc.pid))

    def wait_gone(self, timeout=STOP_GRACE):
        """Wait until no process of the router's group is left (zombies
        aside: they have closed their sockets already). A process killed with
        SIGKILL keeps its listening sockets open while the kernel tears down
        its memory, so "the supervisor exited" is not enough."""
        deadline = time.monotonic() + timeout
        while self.group_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def kill(self):
        """SIGKILL the whole router (a crash) and wait until it is gone."""
        self.signal_group(signal.SIGKILL)
        self.proc.wait()
        self.wait_gone()

    def stop(self):
        if self.proc is None:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            pass
        if not self.wait_gone(timeout=2):
            self.signal_group(signal.SIGKILL)
            self.proc.wait()
            self.wait_gone()

    # --- connecting ---------------------------------------------------

    def user(self, username):
        for u in self.info["users"]:
            if u["username"] == username:
                return u
        raise KeyError(username)

    def url(self, kind):
        return self.info["urls"][kind]

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.info["ca_file"])


def live_group_members(pgid):
    """PIDs in process group `pgid` that still have a running thread (Linux /proc).

    A killed multi-threaded process shows its main thread as a zombie while
    the other threads are still exiting, and its file descriptors (listening
    sockets included) are only closed when the last thread is gone. So look
    at every thread, not at the process state."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(entry)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # fields after the command: state, ppid, pgrp, ...
            if int(fields[2]) != pgid:
                continue
            for task in os.listdir("/proc/{}/task".format(entry)):
                with open("/proc/{}/task/{}/stat".format(entry, task)) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                        members.append(int(entry))
                        break
        except (OSError, IndexError, ValueError):
            continue  # the process went away while we looked
    return members


def accepts(kind, address):
    family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(address)
        return True
    except OSError:
        return False
    finally:
        s.close()


def launch_router(attempts=4, **kwargs):
    """Prepare and start a router; when another process took one of its
    ports between picking and binding, try again with fresh ports."""
    for attempt in range(attempts):
        r = RouterProcess.create(**kwargs)
        try:
            return r.start()
        except RuntimeError:
            clash = "Address already in use" in r.log()
            r.stop()
            if not clash or attempt == attempts - 1:
                raise
            shutil.rmtree(r.dir, ignore_errors=True)
