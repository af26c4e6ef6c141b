#!/usr/bin/env python3
"""Test router fixture: a Crossbar.io router that behaves like Zaber's Nexus.

Run with the venv's python (see setup-venv.sh):

    python tests/router/router.py prepare DIR [--ports JSON]
    python tests/router/router.py start DIR [--watch-parent PID [--cleanup-dir]]

``prepare`` picks free loopback ports (or takes the ones given with --ports,
so that a restarted router keeps its ports), generates a throw-away CA and a
server certificate for ``localhost``/``127.0.0.1``, writes
``DIR/.crossbar/config.json`` and prints ONE line of JSON describing the
router (ports, URLs, CA file, unix socket, realm, users).

``start`` runs ``crossbar start`` for DIR in the foreground and returns its
exit status. Callers put this process in its own process group and stop the
router by signalling the whole group. With ``--watch-parent PID`` the router
is also stopped when process PID goes away, so that a test binary which exits
without cleaning up does not leak routers (and with --cleanup-dir, DIR is
then removed too).

Only the standard library and ``cryptography`` (a dependency of crossbar) are
used here; the Nexus behaviour itself lives in nexus_component.py, which the
router worker loads from this directory.
"""

import argparse
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

REALM = "izaber"

# The users of the dynamic WAMP-Ticket authenticator. nexus_component.py gets
# this list through the component's "extra" configuration, so this is the one
# place they are defined. Passwords are fixed: the router only ever listens on
# loopback and exists for tests.
TICKET_USERS = [
    {"username": "trust-1", "password": "trust-1-secret", "role": "trust"},
    {"username": "backend-1", "password": "backend-1-secret", "role": "backend"},
    {"username": "backend-2", "password": "backend-2-secret", "role": "backend"},
    {"username": "backend-3", "password": "backend-3-secret", "role": "backend"},
    {"username": "frontend-1", "password": "frontend-1-secret", "role": "frontend"},
    {"username": "public-1", "password": "public-1-secret", "role": "public"},
]

# Static WAMP-CRA users (Nexus itself only does ticket; these exist so that a
# client's WAMP-CRA implementation can be tested). Crossbar derives the salted
# key itself from "secret" with PBKDF2(salt, iterations, keylen), exactly as a
# client must, so "password" is what the client is given in both cases.
CRA_USERS = [
    {"username": "cra-backend", "password": "cra-backend-secret", "role": "backend"},
    {
        "username": "cra-salted",
        "password": "cra-salted-secret",
        "role": "frontend",
        "salt": "izaber-salt-1",
        "iterations": 1000,
        "keylen": 32,
    },
]

ROLES = ["public", "frontend", "backend", "trust"]

# Procedures of nexus_component.py that are not part of Nexus (trust only,
# since every URI outside com.izaber.wamp.* is trust only).
AUTHENTICATOR_URI = "nexus.auth.authenticate"
AUTHORIZER_URI = "nexus.auth.authorize"
AGE_OTP_URI = "nexus.testing.otp.age"

PORT_NAMES = ["ws", "wss", "tcp", "tcps"]

# RawSocket frames are limited to 2**24 octets by the protocol; crossbar's
# maximum is exactly that. WebSocket has no such limit: allow 64 MiB
# (crossbar's maximum) so that 16 MiB payloads fit in any serialization.
RAWSOCKET_MAX_MESSAGE = 2**24
WEBSOCKET_MAX_MESSAGE = 64 * 1024 * 1024

# Unix socket paths are limited to 108 bytes including the NUL (sun_path).
UNIX_PATH_MAX = 107


def fail(msg):
    print("router.py: " + msg, file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------


def pick_free_ports(count):
    """Ask the kernel for `count` distinct free loopback TCP ports.

    All sockets are held open until every port is picked, so the same port is
    not handed out twice. Another process may still take a port before
    crossbar binds it; callers retry with fresh ports when start fails.
    """
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def generate_tls(tls_dir):
    """Create a CA and a server certificate (localhost, 127.0.0.1) signed by it.

    Returns the paths (ca_cert, server_cert, server_key). EC P-256 keys:
    quick to generate and accepted by OpenSSL, rustls and Python's ssl.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(days=1)
    not_after = now + datetime.timedelta(days=365)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "izaber-wamp tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, "izaber-wamp test CA"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    os.makedirs(tls_dir, exist_ok=True)
    ca_path = os.path.join(tls_dir, "ca.pem")
    cert_path = os.path.join(tls_dir, "server.pem")
    key_path = os.path.join(tls_dir, "server.key")
    with open(ca_path, "wb") as f:
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return ca_path, cert_path, key_path


def transport_auth():
    """Authentication offered on every transport, as on Nexus (plus WAMP-CRA)."""
    cra_users = {}
    for u in CRA_USERS:
        entry = {"secret": u["password"], "role": u["role"]}
        for k in ("salt", "iterations", "keylen"):
            if k in u:
                entry[k] = u[k]
        cra_users[u["username"]] = entry
    return {
        "ticket": {
            "type": "dynamic",
            "authenticator": AUTHENTICATOR_URI,
            "authenticator-realm": REALM,
            # the router's built-in service session calls the authenticator
            "authenticator-role": "trusted",
        },
        "wampcra": {"type": "static", "users": cra_users},
        "anonymous": {"type": "static", "role": "public"},
    }


def build_config(ports, unix_path, cert_path, key_path):
    tls = {"key": key_path, "certificate": cert_path}
    ws_options = {
        "max_message_size": WEBSOCKET_MAX_MESSAGE,
        "max_frame_size": WEBSOCKET_MAX_MESSAGE,
        # big messages over a slow test machine must not be cut off
        "open_handshake_timeout": 30000,
        "close_handshake_timeout": 5000,
    }
    rs_options = {"max_message_size": RAWSOCKET_MAX_MESSAGE}
    ws_serializers = ["json", "msgpack", "cbor", "ubjson"]
    rs_serializers = ["json", "msgpack", "cbor"]

    def tcp_endpoint(port, with_tls=False):
        ep = {"type": "tcp", "interface": "127.0.0.1", "port": port, "backlog": 256}
        if with_tls:
            ep["tls"] = tls
        return ep

    def web(port, with_tls):
        return {
            "type": "web",
            "endpoint": tcp_endpoint(port, with_tls),
            "paths": {
                "ws": {
                    "type": "websocket",
                    "serializers": ws_serializers,
                    "options": ws_options,
                    "auth": transport_auth(),
                },
            },
        }

    def rawsocket(endpoint):
        return {
            "type": "rawsocket",
            "endpoint": endpoint,
            "serializers": rs_serializers,
            "options": rs_options,
            "auth": transport_auth(),
        }

    roles = [{"name": r, "authorizer": AUTHORIZER_URI} for r in ROLES]

    return {
        "$schema": "https://raw.githubusercontent.com/crossbario/crossbar/master/crossbar.json",
        "version": 2,
        "controller": {
            # if the router worker dies, the node exits, so the test sees it
            "options": {"shutdown": ["shutdown_on_worker_exit"]},
        },
        "workers": [
            {
                "type": "router",
                "options": {"pythonpath": [HERE]},
                "realms": [{"name": REALM, "roles": roles}],
                # components start (and register their procedures) before
                # the transports listen, so an accepting socket means ready
                "components": [
                    {
                        "type": "class",
                        "classname": "nexus_component.NexusComponent",
                        "realm": REALM,
                        "role": "trusted",
                        "extra": {
                            "users": TICKET_USERS,
                            "cra_users": [
                                {"username": u["username"], "role": u["role"]} for u in CRA_USERS
                            ],
                            "authenticator_uri": AUTHENTICATOR_URI,
                            "authorizer_uri": AUTHORIZER_URI,
                            "age_otp_uri": AGE_OTP_URI,
                        },
                    }
                ],
                "transports": [
                    web(ports["ws"], False),
                    web(ports["wss"], True),
                    rawsocket(tcp_endpoint(ports["tcp"])),
                    rawsocket(tcp_endpoint(ports["tcps"], True)),
                    rawsocket({"type": "unix", "path": unix_path, "backlog": 256}),
                ],
            }
        ],
    }


def describe(directory, ports, unix_path, ca_path):
    users = [dict(u, authmethod="ticket") for u in TICKET_USERS]
    users += [dict(u, authmethod="wampcra") for u in CRA_USERS]
    return {
        "dir": directory,
        "cbdir": os.path.join(directory, ".crossbar"),
        "realm": REALM,
        "ports": ports,
        "urls": {
            "ws": "ws://127.0.0.1:{}/ws".format(ports["ws"]),
            "wss": "wss://localhost:{}/ws".format(ports["wss"]),
            "tcp": "tcpip://127.0.0.1:{}".format(ports["tcp"]),
            "tcps": "tcpips://localhost:{}".format(ports["tcps"]),
            "unix": "unix://" + unix_path,
        },
        "unix_socket": unix_path,
        "ca_file": ca_path,
        "serializers": {
            "websocket": ["json", "msgpack", "cbor", "ubjson"],
            "rawsocket": ["json", "msgpack", "cbor"],
        },
        "max_message_size": {"websocket": WEBSOCKET_MAX_MESSAGE, "rawsocket": RAWSOCKET_MAX_MESSAGE},
        "users": users,
        "procedures": {"age_otp": AGE_OTP_URI},
    }


def cmd_prepare(args):
    directory = os.path.abspath(args.dir)
    os.makedirs(directory, exist_ok=True)

    if args.ports:
        try:
            ports = json.loads(args.ports)
            ports = {k: int(ports[k]) for k in PORT_NAMES}
        except (ValueError, KeyError, TypeError) as e:
            fail("--ports must be a JSON object with integer keys {}: {}".format(PORT_NAMES, e))
    else:
        ports = dict(zip(PORT_NAMES, pick_free_ports(len(PORT_NAMES))))

    unix_path = os.path.join(directory, "nexus.sock")
    if len(unix_path.encode()) > UNIX_PATH_MAX:
        fail(
            "unix socket path {!r} is {} bytes, longer than the {} the kernel allows; "
            "use a shorter DIR".format(unix_path, len(unix_path.encode()), UNIX_PATH_MAX)
        )

    cbdir = os.path.join(directory, ".crossbar")
    os.makedirs(cbdir, exist_ok=True)
    ca_path, cert_path, key_path = generate_tls(os.path.join(directory, "tls"))

    config = build_config(ports, unix_path, cert_path, key_path)
    tmp = os.path.join(cbdir, "config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(config, f, indent=2)
    os.replace(tmp, os.path.join(cbdir, "config.json"))

    info = describe(directory, ports, unix_path, ca_path)
    with open(os.path.join(directory, "router.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info, separators=(",", ":")), flush=True)


# ---------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------


def parent_alive(pid, original_ppid):
    """True while the watched process exists.

    When the watched process is our own parent, a change of getppid() (we got
    re-parented to init or a subreaper) is the reliable sign it died; this is
    immune to PID reuse. Otherwise fall back to probing the PID and treat a
    zombie as dead.
    """
    if pid == original_ppid:
        return os.getppid() == pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def cmd_start(args):
    directory = os.path.abspath(args.dir)
    cbdir = os.path.join(directory, ".crossbar")
    if not os.path.isfile(os.path.join(cbdir, "config.json")):
        fail("{} has no .crossbar/config.json; run `router.py prepare {}` first".format(directory, directory))

    # A router killed with SIGKILL leaves its node.pid behind; crossbar would
    # refuse to start if that PID happened to be reused. The directory is
    # ours alone, so the file can go.
    try:
        os.unlink(os.path.join(cbdir, "node.pid"))
    except FileNotFoundError:
        pass

    crossbar = os.path.join(os.path.dirname(sys.executable), "crossbar")
    if not os.path.exists(crossbar):
        fail("{} not found: run this script with the router venv's python".format(crossbar))

    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [
        crossbar,
        "start",
        "--cbdir",
        cbdir,
        "--loglevel",
        args.loglevel,
        "--color",
        "false",
        "--logformat",
        "standard",
    ]
    original_ppid = os.getppid()
    print("router.py: starting {}".format(" ".join(cmd)), flush=True)
    child = subprocess.Popen(cmd, env=env, cwd=directory)

    stopping = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    def stop(reason):
        print("router.py: stopping crossbar ({})".format(reason), flush=True)
        if child.poll() is None:
            child.terminate()
        try:
            return child.wait(timeout=args.grace)
        except subprocess.TimeoutExpired:
            print("router.py: crossbar ignored SIGTERM for {}s, killing".format(args.grace), flush=True)
            # crossbar's workers are in our process group; take them all down
            try:
                os.killpg(os.getpgid(0), signal.SIGKILL)
            except ProcessLookupError:
                pass
            return child.wait()

    while True:
        rc = child.poll()
        if rc is not None:
            print("router.py: crossbar exited with status {}".format(rc), flush=True)
            return rc if rc >= 0 else 128 - rc
        if stopping["signal"] is not None:
            stop("signal {}".format(stopping["signal"]))
            return 0
        if args.watch_parent and not parent_alive(args.watch_parent, original_ppid):
            stop("watched process {} is gone".format(args.watch_parent))
            if args.cleanup_dir:
                # nobody is left to read the log or reuse the directory
                shutil.rmtree(directory, ignore_errors=True)
            return 0
        try:
            child.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="write the router configuration and print its description")
    p.add_argument("dir")
    p.add_argument("--ports", help='JSON object of ports to reuse, e.g. {"ws":1,"wss":2,"tcp":3,"tcps":4}')
    p.set_defaults(func=cmd_prepare)

    s = sub.add_parser("start", help="run the router for DIR in the foreground")
    s.add_argument("dir")
    s.add_argument("--watch-parent", type=int, metavar="PID", help="stop the router when PID exits")
    s.add_argument(
        "--cleanup-dir",
        action="store_true",
        help="remove DIR after stopping because the watched process is gone",
    )
    s.add_argument("--loglevel", default="info", choices=["error", "warn", "info", "debug", "trace"])
    s.add_argument("--grace", type=float, default=10.0, help="seconds to wait after SIGTERM before SIGKILL")
    s.set_defaults(func=cmd_start)

    args = parser.parse_args()
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
