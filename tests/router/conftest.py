"""pytest fixtures for the test router (run with the router venv, see
run-oracle-tests.sh).

* ``router``: one router for the whole pytest session, prepared in a temporary
  directory, started in its own process group and stopped at the end.
* ``connect``: opens swampyer sessions to it and closes them after the test.

Also plain helpers that tests import: ``RouterProcess`` (from router_process.py), ``raw_ws_session``,
``RawSocketSession``, ``request``.
"""

import json
import os
import shutil
import socket
import struct

import pytest
import swampyer
import websockets.sync.client as ws_client

# RouterProcess lives in router_process.py (shared with the benchmark runner); tests import
# it from here.
from router_process import HERE, RouterProcess, launch_router  # noqa: F401


@pytest.fixture(scope="session")
def router():
    r = launch_router(watch_parent=os.getpid())
    try:
        yield r
    finally:
        r.stop()
        if os.environ.get("IZABER_KEEP_ROUTER_DIR"):
            print("router directory kept: " + r.dir)
        else:
            shutil.rmtree(r.dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _router_log_on_failure(request):
    """Print the end of the router log when a test that used the router fails."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and "router" in request.fixturenames:
        r = request.getfixturevalue("router")
        print("----- router log (tail) -----\n" + r.log_tail(60))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


class CraClient(swampyer.WAMPClient):
    """swampyer has no WAMP-CRA; this answers the challenge with the stdlib only
    (PBKDF2 when the challenge carries salt/iterations/keylen, then HMAC-SHA256,
    both base64), which is what a client library must do too."""

    def __init__(self, username, password, **kwargs):
        kwargs.setdefault("authmethods", ["wampcra"])
        kwargs["authid"] = username
        super().__init__(**kwargs)
        self.cra_password = password

    def handle_challenge(self, data):
        import base64
        import hashlib
        import hmac

        extra = data.extra
        key = self.cra_password.encode()
        if "salt" in extra:
            derived = hashlib.pbkdf2_hmac(
                "sha256", key, extra["salt"].encode(), extra["iterations"], extra["keylen"]
            )
            key = base64.b64encode(derived)
        sig = base64.b64encode(hmac.new(key, extra["challenge"].encode(), hashlib.sha256).digest())
        self.send_message(swampyer.AUTHENTICATE(signature=sig.decode(), extra={}))


def close_client(client):
    """Leave cleanly (GOODBYE, close) and let swampyer's reader thread end.

    swampyer's own shutdown() injects an exception into that thread, which
    pytest then reports; setting the flag and waking the loop is enough."""
    try:
        client.disconnect()
    except Exception:
        pass
    client._request_shutdown = True
    cond = client._request_loop_notify_restart
    with cond:
        cond.notify_all()


@pytest.fixture
def connect(router):
    """connect(username=None, kind="ws", serializer="json", **swampyer_options).

    username None: anonymous. A username from the router's user list logs in
    with its password (ticket or WAMP-CRA); pass password= to override.
    """
    clients = []

    def _connect(username=None, kind="ws", serializer="json", password=None, **options):
        options.setdefault("realm", router.info["realm"])
        options.setdefault("auto_reconnect", False)
        # generous: a loaded 2-core CI machine can take seconds for a TLS handshake
        options.setdefault("timeout", 30)
        options.setdefault("serializers", [serializer])
        options["url"] = router.url(kind)
        if kind == "wss":
            options.setdefault("sslopt", router.ssl_context())
        if username is not None or password is not None:
            try:
                user = router.user(username)
            except KeyError:
                user = {"authmethod": "ticket", "password": None}
            if password is None:
                password = user["password"]

        def new_client():
            if username is None and password is None:
                return swampyer.WAMPClient(**options)
            if user["authmethod"] == "wampcra":
                return CraClient(username, password, **options)
            return swampyer.WAMPClientTicket(username=username, password=password, **options)

        # websockets' sync client, under swampyer, reads its TLS socket on a background thread
        # while the calling thread writes the HTTP upgrade request to it. About one wss handshake
        # in 1,700 then never sees the router's answer and times out after websockets' fixed 10 s
        # (3 of 5,000 here; our Rust client: 0 of 5,000 against the same router). That race is
        # the client library's, not the router's, so only that timeout is retried, twice at most.
        for attempt in range(3):
            client = new_client()
            clients.append(client)
            try:
                return client.start()
            except TimeoutError as e:
                if kind != "wss" or "handshake" not in str(e) or attempt == 2:
                    raise
                print("wss handshake timed out in the client library; trying again")

    yield _connect
    for c in clients:
        close_client(c)


def request(client, message):
    """Send a request and return the router's reply message as is (swampyer's
    own helpers drop the error URI when there are args)."""
    return client.send_and_await_response(message)


# --- raw clients: see exactly what the router sends ----------------------


def raw_ws_session(url, realm, authid=None, ticket=None, authmethods=None, ssl_context=None, timeout=10):
    """WAMP-over-WebSocket (json) opening handshake done by hand.

    Returns (connection, first message that is not a CHALLENGE): a WELCOME or
    an ABORT, as a list."""
    conn = ws_client.connect(
        url, subprotocols=["wamp.2.json"], open_timeout=timeout, ssl=ssl_context, max_size=None
    )
    details = {"roles": {"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}}}
    details["authmethods"] = authmethods or (["ticket"] if ticket is not None else ["anonymous"])
    if authid is not None:
        details["authid"] = authid
    conn.send(json.dumps([1, realm, details]))
    while True:
        msg = json.loads(conn.recv(timeout=timeout))
        if msg[0] == 4:  # CHALLENGE
            conn.send(json.dumps([5, ticket or "", {}]))
            continue
        return conn, msg


class RawSocketSession:
    """A minimal WAMP RawSocket client (json), written from the spec, to check
    the router's framing independently of swampyer (whose send() does not
    loop on partial writes, so it cannot carry large messages)."""

    def __init__(self, address, family=socket.AF_INET, max_len_exp=24, ssl_context=None, server_hostname=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(address)
        if ssl_context is not None:
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname=server_hostname)
        # 0x7F, high nibble: max length 2**(9+n) we accept, low nibble: 1 = json
        self.sock.sendall(bytes([0x7F, ((max_len_exp - 9) << 4) | 1, 0, 0]))
        reply = self._recv_exact(4)
        if reply[0] != 0x7F or reply[1] & 0x0F != 1:
            raise RuntimeError("rawsocket handshake refused: {!r}".format(reply))
        self.router_max_len = 2 ** (9 + (reply[1] >> 4))
        self.request_id = 0

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed after {} of {} bytes".format(len(buf), n))
            buf += chunk
        return bytes(buf)

    def send(self, msg):
        payload = json.dumps(msg).encode()
        if len(payload) > self.router_max_len:
            raise ValueError("message of {} bytes exceeds the router's {}".format(len(payload), self.router_max_len))
        self.sock.sendall(struct.pack("!I", len(payload)) + payload)  # type byte 0 = message

    def recv(self):
        while True:
            header = self._recv_exact(4)
            kind, length = header[0] & 0x07, struct.unpack("!I", b"\0" + header[1:])[0]
            payload = self._recv_exact(length)
            if kind == 0:
                return json.loads(payload)
            if kind == 1:  # PING: answer with PONG carrying the same payload
                self.sock.sendall(bytes([2]) + header[1:] + payload)

    def hello(self, realm, authid=None, ticket=None):
        details = {"roles": {"caller": {}, "callee": {}}, "authmethods": ["ticket"] if ticket else ["anonymous"]}
        if authid:
            details["authid"] = authid
        self.send([1, realm, details])
        msg = self.recv()
        if msg[0] == 4:
            self.send([5, ticket, {}])
            msg = self.recv()
        return msg

    def call(self, procedure, args=None):
        self.request_id += 1
        self.send([48, self.request_id, {}, procedure, args or []])
        return self.recv()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
