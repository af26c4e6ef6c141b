"""One instance of a shared procedure on Python's swampyer, written as a Python service is
written today: register, then `while True: time.sleep(1)`. SIGTERM ends it the way Python
ends a process on SIGTERM by default: at once, with no GOODBYE.

    swampyer_service.py --procedure P [--work-ms MS] --url URL --realm REALM --user U \
        --password P

Registers P (a full URI under com.izaber.wamp) with invoke=roundrobin; each call takes MS
(50 unless set) and answers the process id. Prints `ready` once registered. Run by
benches/rolling.py beside examples/bench_service.rs.
"""

import argparse
import os
import time

import swampyer

URI_BASE = "com.izaber.wamp"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--procedure", required=True)
    p.add_argument("--work-ms", type=int, default=50)
    p.add_argument("--url", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    args = p.parse_args()
    prefix = URI_BASE + "."
    if not args.procedure.startswith(prefix):
        p.error("--procedure must be under " + URI_BASE)
    client = swampyer.WAMPClientTicket(
        url=args.url,
        realm=args.realm,
        username=args.user,
        password=args.password,
        # swampyer puts uri_base in front of every URI, so it is given the relative one
        uri_base=URI_BASE,
        serializers=["cbor"],
        auto_reconnect=False,
        timeout=60,
    ).start()

    def work(event, *args_, **kwargs):
        time.sleep(args.work_ms / 1000)
        return os.getpid()

    client.register(args.procedure[len(prefix):], work, details={"invoke": "roundrobin"})
    print("ready", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
