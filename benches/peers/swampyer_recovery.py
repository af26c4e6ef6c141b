"""The `callee` role of examples/bench_recovery.rs, for Python's swampyer, as the Python
izaber-wamp library sets it up. Run by benches/peers/recovery.py with the router venv's python:

    swampyer_recovery.py callee --url URL --user U --password P --procedure URI
        [--registrations N] [--subscriptions M]

The client is made by izaber_wamp's own `WAMP.configure()` (uri_base com.izaber.wamp, realm
izaber, ticket, serializer cbor, timeout 300 s) and left at swampyer's defaults for the rest;
in particular `auto_reconnect` is not set, so swampyer's default applies (its value is printed
in the `ready` line). The subclass only records when it joins and drops
(izaber_wamp.wamp_client_subclass is the library's hook for that).

It registers URI (answers "pong"), N - 1 more procedures URI.extra.1.., and subscribes to M
topics URI.topic.0.., in that order. Every stdout line is one JSON object with an "event" key
and wall-clock times in seconds since the Unix epoch: `ready`, then `join` / `disconnect` on
every later join and drop. It runs until stdin closes or it is killed.
"""

import argparse
import json
import logging
import os
import sys
import threading
import time

import izaber_wamp

URI_BASE = "com.izaber.wamp"
IMPL = "python-swampyer"

_print_lock = threading.Lock()


def emit(**fields):
    with _print_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


@izaber_wamp.wamp_client_subclass
class RecordingClient(izaber_wamp.WAMPClientTicket):
    """izaber_wamp's client, recording when it joins (WELCOME received; swampyer then
    registers and subscribes everything again, one request at a time) and when it drops."""

    def handle_join(self, details):
        emit(event="join", t=time.time())
        return super().handle_join(details)

    def handle_disconnect(self):
        emit(event="disconnect", t=time.time())
        return super().handle_disconnect()


def relative(uri):
    """swampyer puts uri_base in front of every URI, so it is given the relative one."""
    prefix = URI_BASE + "."
    if not uri.startswith(prefix):
        raise SystemExit("the procedure must start with {}".format(prefix))
    return uri[len(prefix) :]


def callee(args):
    wamp = izaber_wamp.WAMP()
    # what izaber_wamp's initializer passes from its default configuration
    wamp.configure(url=args.url, username=args.user, password=args.password, serializer="cbor")
    wamp.run()
    client = wamp.wamp

    def pong(event, *a, **kw):
        return "pong"

    def on_event(event, *a, **kw):
        pass

    name = relative(args.procedure)
    client.register(name, pong)
    for i in range(1, max(1, args.registrations)):
        client.register("{}.extra.{}".format(name, i), pong)
    for i in range(args.subscriptions):
        client.subscribe("{}.topic.{}".format(name, i), on_event)
    emit(
        event="ready",
        t=time.time(),
        impl=IMPL,
        pid=os.getpid(),
        procedure=args.procedure,
        registrations=max(1, args.registrations),
        subscriptions=args.subscriptions,
        auto_reconnect=client.auto_reconnect,
        timeout=client.timeout,
        serializers=client.serializers,
    )
    # until stdin closes; swampyer's threads are not all daemons, so leave without waiting
    sys.stdin.read()
    os._exit(0)


def main():
    # swampyer's own complaints go to stderr, with the time and thread, for the runner's log
    logging.basicConfig(level=logging.WARNING, format="%(created).3f %(threadName)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["callee"])
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--procedure", required=True)
    p.add_argument("--registrations", type=int, default=1)
    p.add_argument("--subscriptions", type=int, default=0)
    callee(p.parse_args())


if __name__ == "__main__":
    main()
