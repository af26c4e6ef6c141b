"""Oracle tests: the test router must behave like Nexus (shared/nexus-api.md).

The Python client swampyer is the oracle; where swampyer hides what the router
sent (error URIs, ABORT reasons, large RawSocket frames), the raw helpers in
conftest.py look at the wire.
"""

import datetime
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
import swampyer
from swampyer import CALL, PUBLISH, REGISTER, SUBSCRIBE, UNREGISTER

from conftest import HERE, RawSocketSession, RouterProcess, close_client, launch_router, raw_ws_session, request

P = "com.izaber.wamp."
NOT_AUTHORIZED = "wamp.error.not_authorized"
NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure"
PERMISSION_DENIED = "com.izaber.wamp.error.permissiondenied"
NEXUS_ERROR = "com.izaber.wamp.error"

TICKET_USERS = ["trust-1", "backend-1", "backend-2", "backend-3", "frontend-1", "public-1"]


def unique(prefix=""):
    return prefix + uuid.uuid4().hex[:12]


def wait_for(predicate, timeout=10.0, what="condition"):
    """Poll `predicate` until it returns a true value; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after {}s waiting for {}".format(timeout, what))
        time.sleep(0.05)


def call_msg(client, procedure, *args, **kwargs):
    return request(client, CALL(options={}, procedure=procedure, args=list(args), kwargs=kwargs))


def call_ok(client, procedure, *args, **kwargs):
    msg = call_msg(client, procedure, *args, **kwargs)
    assert msg == swampyer.WAMP_RESULT, "{} failed: {} {}".format(procedure, msg.error, msg.args)
    return msg.args[0] if msg.args else None


def call_error(client, procedure, *args, **kwargs):
    msg = call_msg(client, procedure, *args, **kwargs)
    assert msg == swampyer.WAMP_ERROR, "{} unexpectedly succeeded: {}".format(procedure, msg.args)
    return msg


# ---------------------------------------------------------------------------
# fixture sanity
# ---------------------------------------------------------------------------


def test_prepare_describes_router(router):
    info = router.info
    assert info["realm"] == "izaber"
    assert set(info["ports"]) == {"ws", "wss", "tcp", "tcps"}
    assert len(set(info["ports"].values())) == 4
    assert info["urls"]["ws"] == "ws://127.0.0.1:{}/ws".format(info["ports"]["ws"])
    assert info["urls"]["wss"] == "wss://localhost:{}/ws".format(info["ports"]["wss"])
    assert info["urls"]["tcp"] == "tcpip://127.0.0.1:{}".format(info["ports"]["tcp"])
    assert info["urls"]["tcps"] == "tcpips://localhost:{}".format(info["ports"]["tcps"])
    assert info["urls"]["unix"] == "unix://" + info["unix_socket"]
    assert os.path.isfile(info["ca_file"])
    roles = {u["username"]: u["role"] for u in info["users"]}
    assert roles["trust-1"] == "trust"
    assert [roles["backend-%d" % i] for i in (1, 2, 3)] == ["backend"] * 3
    assert roles["frontend-1"] == "frontend"
    assert roles["public-1"] == "public"
    assert {u["authmethod"] for u in info["users"]} == {"ticket", "wampcra"}


def test_prepare_reuses_given_ports(tmp_path, router):
    ports = dict(router.info["ports"])
    d = tmp_path / "r"
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "router.py"), "prepare", str(d), "--ports", json.dumps(ports)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert len(out.strip().splitlines()) == 1
    assert json.loads(out)["ports"] == ports
    config = json.loads((d / ".crossbar" / "config.json").read_text())
    listening = {t["endpoint"].get("port") for t in config["workers"][0]["transports"]}
    assert set(ports.values()) <= listening


def test_router_log_is_clean(router):
    log = router.log()
    assert "NODE_BOOT_COMPLETE" in log
    # the bjdata/NumPy mismatch that setup-venv.sh rebuilds away
    assert "_ARRAY_API" not in log


def test_server_certificate_valid_for_localhost_and_ip(router):
    port = router.info["ports"]["wss"]
    for name in ("localhost", "127.0.0.1"):
        ctx = router.ssl_context()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() == "TLSv1.3"
    # and a client that does not trust our CA refuses it
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")


# ---------------------------------------------------------------------------
# transports and serializers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ws", "wss", "tcp", "unix"])
@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_ticket_login_on_every_transport(connect, kind, serializer):
    client = connect("backend-2", kind=kind, serializer=serializer)
    assert client.call(P + "auth.whoami") == {"authid": "backend-2", "role": "backend"}


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_tls_rawsocket(router, hostname):
    # swampyer's tcpips transport shares one TLS socket between threads and
    # fails at random (bad record MAC), so this uses the raw client.
    s = RawSocketSession(
        ("127.0.0.1", router.info["ports"]["tcps"]), ssl_context=router.ssl_context(), server_hostname=hostname
    )
    try:
        welcome = s.hello("izaber", "backend-2", "backend-2-secret")
        assert welcome[0] == 2 and welcome[2]["authrole"] == "backend", welcome
        result = s.call(P + "auth.whoami")
        assert result[0] == 50 and result[3] == [{"authid": "backend-2", "role": "backend"}]
    finally:
        s.close()


def test_ubjson_is_offered_on_websocket(router):
    import websockets.sync.client as wsc

    conn = wsc.connect(router.url("ws"), subprotocols=["wamp.2.ubjson"], open_timeout=10)
    try:
        assert conn.subprotocol == "wamp.2.ubjson"
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# authentication
# ---------------------------------------------------------------------------


def test_welcome_details(router):
    conn, msg = raw_ws_session(router.url("ws"), "izaber", "backend-1", router.user("backend-1")["password"])
    try:
        assert msg[0] == 2, msg
        details = msg[2]
        assert details["authid"] == "backend-1"
        assert details["authrole"] == "backend"
        assert details["authmethod"] == "ticket"
        assert details["authprovider"] == "dynamic"
        assert details["realm"] == "izaber"
        extra = details["authextra"]
        assert extra["has_restrictions"] is False
        assert isinstance(extra["cache_id"], str) and extra["cache_id"]
        assert any(k.startswith("x_cb_") for k in extra)
    finally:
        conn.close()


@pytest.mark.parametrize("username", TICKET_USERS)
def test_every_ticket_user_logs_in(router, connect, username):
    client = connect(username)
    role = router.user(username)["role"]
    assert (client.peer.details["authid"], client.peer.details["authrole"]) == (username, role)
    if role != "public":  # public may not call auth.*
        assert client.call(P + "auth.whoami") == {"authid": username, "role": role}


def test_login_is_case_insensitive(connect):
    client = connect("Backend-1", password="backend-1-secret")
    assert client.call(P + "auth.whoami") == {"authid": "backend-1", "role": "backend"}


@pytest.mark.parametrize(
    "authid,ticket",
    [
        ("backend-1", "wrong password"),
        ("nobody", "backend-1-secret"),
        (None, "backend-1-secret"),
        ("", "backend-1-secret"),
        ("backend-1", ""),
    ],
    ids=["bad-password", "unknown-user", "no-authid", "empty-authid", "empty-ticket"],
)
def test_failed_login_is_aborted_with_permission_denied(router, authid, ticket):
    conn, msg = raw_ws_session(router.url("ws"), "izaber", authid, ticket, authmethods=["ticket"])
    conn.close()
    assert msg == [3, {"message": "Permission Denied"}, PERMISSION_DENIED]


def test_failed_login_over_rawsocket(router):
    s = RawSocketSession(("127.0.0.1", router.info["ports"]["tcp"]))
    try:
        assert s.hello("izaber", "backend-1", "wrong") == [3, {"message": "Permission Denied"}, PERMISSION_DENIED]
    finally:
        s.close()


def test_failed_login_in_swampyer(connect):
    with pytest.raises(swampyer.ExAbort, match="Permission Denied"):
        connect("backend-1", password="wrong")


def test_unknown_realm(router):
    conn, msg = raw_ws_session(router.url("ws"), "no-such-realm", "backend-1", "backend-1-secret")
    conn.close()
    assert msg[0] == 3 and msg[2] == "wamp.error.no_such_realm", msg


def test_anonymous_login(router, connect):
    a = connect()
    b = connect()
    assert a.peer.details["authrole"] == "public"
    assert a.peer.details["authmethod"] == "anonymous"
    assert a.peer.details["authid"] != b.peer.details["authid"]
    # anonymous sessions may query rosters
    assert a.call(P + "system.roster.query", "roster." + unique()) == []


@pytest.mark.parametrize("username,role", [("cra-backend", "backend"), ("cra-salted", "frontend")])
def test_wampcra_login(connect, username, role):
    client = connect(username)
    assert client.peer.details["authmethod"] == "wampcra"
    assert client.call(P + "auth.whoami") == {"authid": username, "role": role}


@pytest.mark.parametrize("username", ["cra-backend", "cra-salted"])
def test_wampcra_wrong_password(connect, username):
    with pytest.raises(swampyer.ExAbort):
        connect(username, password="wrong")


def test_wampcra_challenge_carries_salt(router):
    import websockets.sync.client as wsc

    conn = wsc.connect(router.url("ws"), subprotocols=["wamp.2.json"], open_timeout=10)
    try:
        conn.send(json.dumps([1, "izaber", {"roles": {"caller": {}}, "authmethods": ["wampcra"], "authid": "cra-salted"}]))
        msg = json.loads(conn.recv(timeout=10))
        assert msg[0] == 4 and msg[1] == "wampcra"
        user = router.user("cra-salted")
        assert msg[2]["salt"] == user["salt"]
        assert msg[2]["iterations"] == user["iterations"]
        assert msg[2]["keylen"] == user["keylen"]
        assert json.loads(msg[2]["challenge"])["authid"] == "cra-salted"
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# role permissions
# ---------------------------------------------------------------------------

ALLOW, DENY = True, False

PERMISSIONS = [
    # public
    ("public-1", "call", P + "public.x", ALLOW),
    ("public-1", "register", P + "public.x", ALLOW),
    ("public-1", "subscribe", P + "public.x", ALLOW),
    ("public-1", "publish", P + "public.x", ALLOW),
    ("public-1", "call", P + "system.roster.query", ALLOW),
    ("public-1", "call", P + "system.roster.register", DENY),
    ("public-1", "call", P + "auth.whoami", DENY),
    ("public-1", "call", P + "my.metadata.list", DENY),
    ("public-1", "register", P + "frontend.x", DENY),
    ("public-1", "subscribe", P + "frontend.x", DENY),
    ("public-1", "publish", P + "backend.x", DENY),
    ("public-1", "call", "auth.whoami", DENY),
    (None, "call", P + "public.x", ALLOW),
    (None, "call", P + "system.roster.query", ALLOW),
    (None, "call", P + "auth.whoami", DENY),
    (None, "register", P + "backend.x", DENY),
    # frontend
    ("frontend-1", "call", P + "public.x", ALLOW),
    ("frontend-1", "register", P + "public.x", ALLOW),
    ("frontend-1", "subscribe", P + "public.x", ALLOW),
    ("frontend-1", "publish", P + "public.x", ALLOW),
    ("frontend-1", "call", P + "frontend.x", ALLOW),
    ("frontend-1", "register", P + "frontend.x", ALLOW),
    ("frontend-1", "subscribe", P + "frontend.x", ALLOW),
    ("frontend-1", "publish", P + "frontend.x", ALLOW),
    ("frontend-1", "call", P + "auth.whoami", ALLOW),
    ("frontend-1", "call", P + "auth.anything", ALLOW),
    ("frontend-1", "call", P + "my.metadata.list", ALLOW),
    ("frontend-1", "call", P + "my.otps.list", ALLOW),
    ("frontend-1", "call", P + "system.roster.register", ALLOW),
    ("frontend-1", "call", P + "system.roster.unregister", ALLOW),
    ("frontend-1", "call", P + "system.roster.query", ALLOW),
    ("frontend-1", "call", P + "system.other", DENY),
    ("frontend-1", "call", P + "ad.users", DENY),
    ("frontend-1", "call", P + "backend.x", DENY),
    ("frontend-1", "register", P + "backend.x", DENY),
    ("frontend-1", "register", P + "auth.x", DENY),
    ("frontend-1", "publish", P + "backend.x", DENY),
    ("frontend-1", "subscribe", P + "backend.x", DENY),
    ("frontend-1", "call", "auth.whoami", DENY),
    # backend
    ("backend-1", "call", P + "anything.x", ALLOW),
    ("backend-1", "register", P + "anything.x", ALLOW),
    ("backend-1", "subscribe", P + "anything.x", ALLOW),
    ("backend-1", "publish", P + "anything.x", ALLOW),
    ("backend-1", "call", P + "ad.users", ALLOW),
    ("backend-1", "call", "auth.whoami", DENY),
    ("backend-1", "call", "my.metadata.list", DENY),
    ("backend-1", "register", "other.x", DENY),
    ("backend-1", "subscribe", "other.x", DENY),
    ("backend-1", "publish", "other.x", DENY),
    ("backend-1", "call", "wamp.session.count", DENY),
    ("backend-1", "call", "nexus.testing.otp.age", DENY),
    ("cra-backend", "register", P + "anything.x", ALLOW),
    ("cra-backend", "call", "auth.whoami", DENY),
    ("cra-salted", "register", P + "backend.x", DENY),
    # trust
    ("trust-1", "call", "auth.whoami", ALLOW),
    ("trust-1", "register", "other.x", ALLOW),
    ("trust-1", "subscribe", "other.x", ALLOW),
    ("trust-1", "publish", "other.x", ALLOW),
    ("trust-1", "call", "wamp.session.count", ALLOW),
    ("trust-1", "call", P + "anything.x", ALLOW),
]


def attempt(client, action, uri):
    """Perform `action` on `uri`; returns the ERROR URI or None on success.

    For calls, any error but not_authorized means the router let the call
    through: crossbar authorizes before it looks for a callee, so an unknown
    procedure gives no_such_procedure, and Nexus procedures called without
    arguments answer with their own errors."""
    if action == "call":
        msg = call_msg(client, uri)
        if msg == swampyer.WAMP_ERROR and msg.error == NOT_AUTHORIZED:
            return msg.error
        return None
    if action == "register":
        msg = request(client, REGISTER(details={}, procedure=uri))
        if msg == swampyer.WAMP_REGISTERED:
            request(client, UNREGISTER(registration_id=msg.registration_id))
            return None
        return msg.error
    if action == "subscribe":
        msg = request(client, SUBSCRIBE(options={}, topic=uri))
        return None if msg == swampyer.WAMP_SUBSCRIBED else msg.error
    if action == "publish":
        msg = request(client, PUBLISH(options={"acknowledge": True}, topic=uri, args=[1], kwargs={}))
        return None if msg == swampyer.WAMP_PUBLISHED else msg.error
    raise ValueError(action)


@pytest.mark.parametrize(
    "username,action,uri,allowed",
    PERMISSIONS,
    ids=["{}-{}-{}".format(u or "anonymous", a, uri) for u, a, uri, _ in PERMISSIONS],
)
def test_role_permissions(connect, username, action, uri, allowed):
    client = connect(username)
    # unique URIs so parallel registrations never clash
    if action == "register":
        uri = uri + "." + unique("r")
    error = attempt(client, action, uri)
    if allowed:
        assert error is None, "{} {} was refused: {}".format(action, uri, error)
    else:
        assert error == NOT_AUTHORIZED


def test_not_authorized_message_names_the_session(connect):
    client = connect("frontend-1")
    msg = call_error(client, P + "backend.thing")
    assert msg.error == NOT_AUTHORIZED
    text = msg.args[0]
    assert "is not authorized" in text
    assert "frontend-1" in text and "frontend" in text and P + "backend.thing" in text


def test_bare_procedure_names_only_for_trust(connect):
    assert connect("trust-1").call("auth.whoami") == {"authid": "trust-1", "role": "trust"}
    assert call_error(connect("backend-1"), "auth.whoami").error == NOT_AUTHORIZED


# ---------------------------------------------------------------------------
# what peers see
# ---------------------------------------------------------------------------


def test_invocation_event_and_result_details(connect):
    callee = connect("backend-1")
    caller = connect("frontend-1")
    uri = P + "frontend." + unique("p")
    seen = {}

    def handler(invoke, *args, **kwargs):
        seen["invocation"] = invoke.details
        return "pong"

    callee.register(uri, handler)
    result = call_msg(caller, uri)
    assert result == swampyer.WAMP_RESULT and result.args == ["pong"]
    inv = seen["invocation"]
    assert inv["caller"] == caller.session_id
    assert inv["caller_authid"] == "frontend-1"
    assert inv["caller_authrole"] == "frontend"
    assert result.details.get("callee") == callee.session_id
    assert result.details.get("callee_authid") == "backend-1"
    assert result.details.get("callee_authrole") == "backend"

    events = []
    topic = P + "frontend." + unique("t")
    callee.subscribe(topic, lambda event, *a, **k: events.append(event.details))
    assert request(caller, PUBLISH(options={"acknowledge": True}, topic=topic, args=["hi"], kwargs={})) == (
        swampyer.WAMP_PUBLISHED
    )
    wait_for(lambda: events, what="event")
    assert events[0]["publisher"] == caller.session_id
    assert events[0]["publisher_authid"] == "frontend-1"
    assert events[0]["publisher_authrole"] == "frontend"


def test_pattern_registration_gets_procedure(connect):
    callee = connect("backend-1")
    caller = connect("backend-2")
    prefix = P + unique("pre") + "."
    seen = {}

    def handler(invoke, *args, **kwargs):
        seen.update(invoke.details)
        return True

    callee.register(prefix, handler, details={"match": "prefix"})
    assert caller.call(prefix + "deep.name") is True
    assert seen["procedure"] == prefix + "deep.name"


def test_wildcard_registration_and_pattern_subscription(connect):
    callee = connect("backend-1")
    caller = connect("backend-2")
    base = P + unique("wc")
    seen = {}

    def handler(invoke, *args, **kwargs):
        seen.update(invoke.details)
        return "wild"

    callee.register(base + "..end", handler, details={"match": "wildcard"})
    assert caller.call(base + ".middle.end") == "wild"
    assert seen["procedure"] == base + ".middle.end"

    events = []
    callee.subscribe(base + ".", lambda event, *a, **k: events.append(event.details), options={"match": "prefix"})
    request(caller, PUBLISH(options={"acknowledge": True}, topic=base + ".t1", args=[], kwargs={}))
    wait_for(lambda: events, what="event")
    assert events[0]["topic"] == base + ".t1"


def test_roundrobin_shared_registration(connect):
    uri = P + unique("rr")
    a = connect("backend-1")
    b = connect("backend-3")
    a.register(uri, lambda invoke: "a", details={"invoke": "roundrobin"})
    b.register(uri, lambda invoke: "b", details={"invoke": "roundrobin"})
    caller = connect("backend-2")
    answers = [caller.call(uri) for _ in range(4)]
    assert sorted(answers) == ["a", "a", "b", "b"]


def test_unregister_unknown_registration(connect):
    msg = request(connect("backend-1"), UNREGISTER(registration_id=123456789))
    assert msg == swampyer.WAMP_ERROR and msg.error == "wamp.error.no_such_registration"


def test_force_reregister_displaces_the_old_callee(connect):
    unregistered = []

    class Recorder(swampyer.WAMPClientTicket):
        def handle_unregistered(self, message):
            unregistered.append(message)

    first = connect("backend-1")
    # the callee that gets displaced records what the router tells it
    old = Recorder(
        url=first.url, realm="izaber", username="backend-1", password="backend-1-secret",
        auto_reconnect=False, timeout=10, serializers=["json"],
    ).start()
    try:
        uri = P + unique("force")
        reg = old.register(uri, lambda invoke: "old")
        assert reg == swampyer.WAMP_REGISTERED
        dup = request(first, REGISTER(details={}, procedure=uri))
        assert dup == swampyer.WAMP_ERROR and dup.error == "wamp.error.procedure_already_exists"
        new = first.register(uri, lambda invoke: "new", details={"force_reregister": True})
        assert new == swampyer.WAMP_REGISTERED
        wait_for(lambda: unregistered, what="UNREGISTERED")
        assert unregistered[0].details == {"reason": "wamp.error.unregistered", "registration": reg.registration_id}
        assert first.call(uri) == "new"
    finally:
        close_client(old)


def test_swampyer_callee_failure_uri(connect):
    callee = connect("backend-1", uri_base="com.izaber.wamp")
    caller = connect("backend-2")
    name = unique("fail")

    def handler(invoke):
        raise ValueError("boom", 42)

    callee.register(name, handler)
    msg = call_error(caller, P + name)
    assert msg.error == "com.izaber.wamp.error.invoke.failure"
    assert msg.args == ["Call failed: ('boom', 42)", "boom", 42]


# ---------------------------------------------------------------------------
# large payloads
# ---------------------------------------------------------------------------


def echo_callee(connect, uri):
    callee = connect("backend-1")
    callee.register(uri, lambda invoke, data: data)
    return callee


@pytest.mark.parametrize("size_mib", [1, 12])
def test_large_payload_over_websocket(connect, size_mib):
    uri = P + unique("echo")
    echo_callee(connect, uri)
    caller = connect("backend-2", serializer="msgpack")
    data = "x" * (size_mib * 1024 * 1024)
    assert caller.call(uri, data) == data


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_large_payload_over_rawsocket(router, connect, kind):
    uri = P + unique("echo")
    echo_callee(connect, uri)
    if kind == "tcp":
        s = RawSocketSession(("127.0.0.1", router.info["ports"]["tcp"]))
    else:
        s = RawSocketSession(router.info["unix_socket"], family=socket.AF_UNIX)
    try:
        assert s.router_max_len == 2**24
        welcome = s.hello("izaber", "backend-2", "backend-2-secret")
        assert welcome[0] == 2, welcome
        data = "y" * (12 * 1024 * 1024)
        result = s.call(uri, [data])
        assert result[0] == 50 and result[3] == [data]
    finally:
        s.close()


# ---------------------------------------------------------------------------
# auth.whoami, ad.*
# ---------------------------------------------------------------------------


def test_whoami_shape(connect):
    assert connect("frontend-1").call(P + "auth.whoami") == {"authid": "frontend-1", "role": "frontend"}


def test_ad_users_and_groups(connect):
    client = connect("backend-1")
    users = client.call(P + "ad.users")
    groups = client.call(P + "ad.groups")
    assert isinstance(users, list) and users
    assert isinstance(groups, list) and groups
    assert any(u["attributes"]["sAMAccountName"] == "backend-1" for u in users)


def test_bad_arguments_give_nexus_error(connect):
    msg = call_error(connect("backend-1"), P + "my.metadata.get")
    assert msg.error == NEXUS_ERROR


# ---------------------------------------------------------------------------
# roster
# ---------------------------------------------------------------------------


def test_roster_register_record(connect):
    client = connect("backend-1")
    name = "roster." + unique()
    rec = client.call(P + "system.roster.register", name, {"a": 1})
    assert rec["name"] == name
    assert rec["data"] == {"a": 1}
    assert rec["visibility"] == "*"
    assert rec["session_id"] == client.session_id
    assert rec["key"] == "{}_{}".format(client.session_id, name)
    assert isinstance(rec["created"], float) and abs(rec["created"] - time.time()) < 60
    assert rec["uuid"] and rec["owner"]


def test_roster_query_replace_unregister(connect):
    a = connect("backend-1")
    b = connect("frontend-1")
    reader = connect("backend-2")
    name = "roster." + unique()
    a.call(P + "system.roster.register", name, {"who": "a"})
    b.call(P + "system.roster.register", name, {"who": "b"})
    assert reader.call(P + "system.roster.query", name) == [{"who": "a"}, {"who": "b"}]
    # registering again in the same session replaces the data
    a.call(P + "system.roster.register", name, {"who": "a2"})
    assert sorted(d["who"] for d in reader.call(P + "system.roster.query", name)) == ["a2", "b"]
    assert a.call(P + "system.roster.unregister", name) is True
    assert reader.call(P + "system.roster.query", name) == [{"who": "b"}]
    # unregistering what is not there is fine too
    assert a.call(P + "system.roster.unregister", name) is True
    assert reader.call(P + "system.roster.query", "roster." + unique()) == []


def test_roster_entries_per_session(connect):
    a1 = connect("backend-1")
    a2 = connect("backend-1")
    name = "roster." + unique()
    a1.call(P + "system.roster.register", name, 1)
    a2.call(P + "system.roster.register", name, 2)
    assert sorted(a1.call(P + "system.roster.query", name)) == [1, 2]


def test_roster_visibility(connect):
    owner = connect("backend-1")
    name = "roster." + unique()
    owner.call(P + "system.roster.register", name, "everyone")
    owner2 = connect("backend-2")
    owner2.call(P + "system.roster.register", name, "frontends", ["frontend"])
    owner3 = connect("backend-3")
    owner3.call(P + "system.roster.register", name, "trust only", ["trust"])

    def q(username):
        return sorted(connect(username).call(P + "system.roster.query", name))

    assert q("frontend-1") == ["everyone", "frontends"]
    assert q("backend-1") == ["everyone"]
    assert q("public-1") == ["everyone"]
    assert q(None) == ["everyone"]
    # trust sees every entry (Nexus skips the visibility filter for trust)
    assert q("trust-1") == ["everyone", "frontends", "trust only"]


def test_roster_permissions(connect):
    backend = connect("backend-1")
    public = connect("public-1")
    trust = connect("trust-1")
    other = "other." + unique()

    msg = call_error(backend, P + "system.roster.register", other, 1)
    assert (msg.error, msg.args) == (PERMISSION_DENIED, ["Permission Denied"])
    msg = call_error(backend, P + "system.roster.query", other)
    assert (msg.error, msg.args) == (PERMISSION_DENIED, ["Permission Denied"])
    msg = call_error(public, P + "system.roster.query", other)
    assert msg.error == PERMISSION_DENIED
    # public may not register at all (router level)
    assert call_error(public, P + "system.roster.register", "roster." + unique(), 1).error == NOT_AUTHORIZED
    # trust may use any name
    trust.call(P + "system.roster.register", other, "t")
    assert trust.call(P + "system.roster.query", other) == ["t"]
    # an empty visibility is an error
    assert call_error(backend, P + "system.roster.register", "roster." + unique(), 1, []).error == NEXUS_ERROR


def test_roster_entry_vanishes_on_clean_leave(connect):
    reader = connect("backend-2")
    leaver = connect("backend-1")
    name = "roster." + unique()
    leaver.call(P + "system.roster.register", name, "here")
    assert reader.call(P + "system.roster.query", name) == ["here"]
    leaver.disconnect()
    wait_for(lambda: reader.call(P + "system.roster.query", name) == [], what="roster entry to vanish")


def test_roster_entry_vanishes_when_client_dies(router, connect):
    """A client killed with SIGKILL (no GOODBYE, socket closed by the kernel)."""
    name = "roster." + unique()
    script = textwrap.dedent(
        """
        import sys, time, swampyer
        c = swampyer.WAMPClientTicket(url=sys.argv[1], realm="izaber", username="backend-3",
                                      password="backend-3-secret", auto_reconnect=False,
                                      serializers=["json"])
        c.start()
        c.call("com.izaber.wamp.system.roster.register", sys.argv[2], "doomed")
        print("registered", flush=True)
        time.sleep(120)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, router.url("tcp"), name], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "registered"
        reader = connect("backend-2")
        assert reader.call(P + "system.roster.query", name) == ["doomed"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for(lambda: reader.call(P + "system.roster.query", name) == [], what="roster entry to vanish")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------
# my.metadata
# ---------------------------------------------------------------------------


def test_metadata_roundtrip(connect):
    client = connect("backend-3")
    key = unique("k.")
    assert client.call(P + "my.metadata.get", key) is None
    assert client.call(P + "my.metadata.set", key, {"a": [1, 2]}) == {"a": [1, 2]}
    assert client.call(P + "my.metadata.get", key) == {"a": [1, 2]}
    assert client.call(P + "my.metadata.set", key, "changed") == "changed"
    assert client.call(P + "my.metadata.get", key) == "changed"
    listing = client.call(P + "my.metadata.list")
    assert set(listing[key]) == {"uuid", "owner", "value"}
    assert listing[key]["value"] == "changed"
    assert client.call(P + "my.metadata.delete", key) is None
    assert client.call(P + "my.metadata.get", key) is None
    assert key not in client.call(P + "my.metadata.list")
    assert client.call(P + "my.metadata.delete", key) is None


def test_metadata_yaml(connect):
    client = connect("backend-3")
    key = unique("y.")
    text = "something:\n  goes:\n    here: right\n    there: 1\n"
    stored = client.call(P + "my.metadata.set", key, text, True)
    assert stored == text
    assert client.call(P + "my.metadata.get", key) == {"something": {"goes": {"here": "right", "there": 1}}}
    assert client.call(P + "my.metadata.get", key, True) == text
    assert client.call(P + "my.metadata.list", True)[key]["value"] == text


def test_metadata_is_per_user_and_shared_between_sessions(connect):
    a = connect("backend-1")
    a2 = connect("backend-1", kind="tcp")
    b = connect("backend-2")
    key = unique("u.")
    a.call(P + "my.metadata.set", key, "mine")
    assert a2.call(P + "my.metadata.get", key) == "mine"
    assert b.call(P + "my.metadata.get", key) is None
    assert key not in b.call(P + "my.metadata.list")


def test_metadata_bare_names_for_trust(connect):
    trust = connect("trust-1")
    key = unique("t.")
    assert trust.call("my.metadata.set", key, 5) == 5
    assert trust.call(P + "my.metadata.get", key) == 5


# ---------------------------------------------------------------------------
# one-time passwords
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["my.otps", "my.otp"])
def test_otp_create_list_delete(connect, family):
    client = connect("frontend-1")
    otp = client.call(P + family + ".create")
    assert set(otp) == {"uuid", "key", "plaintext_key", "login", "origin", "owner", "permissions", "expires"}
    assert len(otp["plaintext_key"]) == 32
    assert otp["login"] == "frontend-1"
    assert otp["origin"] == "frontend-1@127.0.0.1"
    assert otp["permissions"] == []
    expires = datetime.datetime.fromisoformat(otp["expires"])
    assert expires.utcoffset() is not None
    remaining = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 590 < remaining <= 600
    listed = client.call(P + family + ".list")
    assert otp["uuid"] in [o["uuid"] for o in listed]
    assert client.call(P + family + ".delete", otp["uuid"]) is True
    assert otp["uuid"] not in [o["uuid"] for o in client.call(P + family + ".list")]
    msg = call_error(client, P + family + ".delete", "bogus")
    assert (msg.error, msg.args) == (NEXUS_ERROR, ["UID 'bogus' invalid."])


def test_otp_logs_in_exactly_once(connect):
    owner = connect("backend-1")
    otp = owner.call(P + "my.otps.create")
    session = connect("backend-1", password=otp["plaintext_key"])
    assert session.call(P + "auth.whoami") == {"authid": "backend-1", "role": "backend"}
    assert session.peer.details["authextra"]["has_restrictions"] is True
    with pytest.raises(swampyer.ExAbort, match="Permission Denied"):
        connect("backend-1", password=otp["plaintext_key"])
    # used up: gone from the list
    assert otp["uuid"] not in [o["uuid"] for o in owner.call(P + "my.otps.list")]


def test_otp_is_only_for_its_user(connect):
    otp = connect("backend-1").call(P + "my.otps.create")
    with pytest.raises(swampyer.ExAbort):
        connect("backend-2", password=otp["plaintext_key"])


def test_otp_expiry(connect):
    owner = connect("backend-1")
    trust = connect("trust-1")
    almost = owner.call(P + "my.otps.create")
    expired = owner.call(P + "my.otps.create")
    # 9 minutes old: still valid; 10 minutes and a second: refused
    trust.call("nexus.testing.otp.age", almost["uuid"], 9 * 60)
    aged = trust.call("nexus.testing.otp.age", expired["uuid"], 10 * 60 + 1)
    assert datetime.datetime.fromisoformat(aged["expires"]) < datetime.datetime.now(datetime.timezone.utc)
    assert connect("backend-1", password=almost["plaintext_key"]).call(P + "auth.whoami")["authid"] == "backend-1"
    with pytest.raises(swampyer.ExAbort, match="Permission Denied"):
        connect("backend-1", password=expired["plaintext_key"])
    # expired ones are not listed
    assert expired["uuid"] not in [o["uuid"] for o in owner.call(P + "my.otps.list")]


# ---------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------


def test_apikey_create_list_delete(connect):
    client = connect("backend-2")
    rec = client.call(P + "my.apikeys.create", {"description": "for tests"})
    assert set(rec) == {"uuid", "key", "plaintext_key", "description", "expires", "owner", "permissions"}
    assert rec["description"] == "for tests"
    assert rec["expires"] is None
    assert rec["permissions"] == []
    listed = {r["uuid"]: r for r in client.call(P + "my.apikeys.list")}
    assert listed[rec["uuid"]]["plaintext_key"] == rec["plaintext_key"]
    # not visible to another user
    assert rec["uuid"] not in [r["uuid"] for r in connect("backend-1").call(P + "my.apikeys.list")]
    assert client.call(P + "my.apikeys.delete", rec["uuid"]) is True
    assert rec["uuid"] not in [r["uuid"] for r in client.call(P + "my.apikeys.list")]
    msg = call_error(client, P + "my.apikeys.delete", "bogus")
    assert (msg.error, msg.args) == (NEXUS_ERROR, ["UID 'bogus' invalid."])
    # create without arguments
    assert connect("backend-2").call(P + "my.apikeys.create")["description"] is None


def test_apikey_login_reusable_until_deleted(connect):
    owner = connect("frontend-1")
    rec = owner.call(P + "my.apikeys.create", {"description": "reuse"})
    for _ in range(2):
        s = connect("frontend-1", password=rec["plaintext_key"])
        assert s.call(P + "auth.whoami") == {"authid": "frontend-1", "role": "frontend"}
        assert s.peer.details["authextra"]["has_restrictions"] is True
    owner.call(P + "my.apikeys.delete", rec["uuid"])
    with pytest.raises(swampyer.ExAbort, match="Permission Denied"):
        connect("frontend-1", password=rec["plaintext_key"])


def test_expired_apikey_is_refused(connect):
    owner = connect("backend-2")
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)).isoformat()
    rec = owner.call(P + "my.apikeys.create", {"description": "old", "expires": past})
    with pytest.raises(swampyer.ExAbort, match="Permission Denied"):
        connect("backend-2", password=rec["plaintext_key"])


@pytest.mark.parametrize("via", ["otp", "apikey"])
def test_restricted_sessions(connect, via):
    owner = connect("backend-1")
    if via == "otp":
        secret = owner.call(P + "my.otps.create")["plaintext_key"]
    else:
        secret = owner.call(P + "my.apikeys.create", {"description": "restricted"})["plaintext_key"]
    s = connect("backend-1", password=secret)
    for proc in ["my.otps.create", "my.otps.list", "my.otp.create", "my.otp.list", "my.apikeys.create", "my.apikeys.list"]:
        msg = call_error(s, P + proc)
        assert msg.error == NOT_AUTHORIZED, proc
        assert "is not authorized" in msg.args[0]
    key = unique("r.")
    assert s.call(P + "my.metadata.set", key, "ok") == "ok"
    assert s.call(P + "my.metadata.get", key) == "ok"
    # and the restriction is per session: the password session still can
    assert owner.call(P + "my.otps.list") is not None


def test_restricted_trust_session_cannot_use_bare_names_either(connect):
    trust = connect("trust-1")
    secret = trust.call(P + "my.apikeys.create")["plaintext_key"]
    s = connect("trust-1", password=secret)
    assert call_error(s, "my.apikeys.list").error == NOT_AUTHORIZED
    assert s.call("auth.whoami") == {"authid": "trust-1", "role": "trust"}


# ---------------------------------------------------------------------------
# router lifecycle
# ---------------------------------------------------------------------------


def test_router_stops_when_watched_parent_dies(tmp_path):
    """A process that starts a router with --watch-parent and dies without
    cleaning up must not leak the router."""
    directory = "/tmp/izr-w" + uuid.uuid4().hex[:8]
    script = textwrap.dedent(
        """
        import os, subprocess, sys
        p = subprocess.Popen([sys.executable, sys.argv[1], "start", sys.argv[2],
                              "--watch-parent", str(os.getpid()), "--cleanup-dir"],
                             stdout=open(os.path.join(sys.argv[2], "router.log"), "ab"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        print(p.pid, flush=True)
        sys.stdin.readline()   # wait until told to die
        os._exit(0)            # no cleanup at all
        """
    )
    r = RouterProcess.create(directory)
    parent = subprocess.Popen(
        [sys.executable, "-c", script, os.path.join(HERE, "router.py"), directory],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    pgid = int(parent.stdout.readline())

    class Handle:
        pid = pgid

        @staticmethod
        def poll():
            return None

    r.proc = Handle()
    try:
        r.wait_ready()
        parent.stdin.write("die\n")
        parent.stdin.flush()
        parent.wait(timeout=10)
        wait_for(lambda: not r.group_alive(), timeout=30, what="router process group to exit")
        # --cleanup-dir: the directory goes with it
        wait_for(lambda: not os.path.exists(directory), timeout=10, what="router directory removal")
    finally:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


def test_restart_keeps_ports_and_resets_state(tmp_path):
    r = launch_router(watch_parent=os.getpid())
    try:
        url = r.url("ws")
        c = swampyer.WAMPClientTicket(url=url, realm="izaber", username="backend-1", password="backend-1-secret",
                                      auto_reconnect=False, timeout=10, serializers=["json"]).start()
        c.call(P + "my.metadata.set", "persist?", 1)
        close_client(c)
        # crash it, then start again on the same directory (same ports)
        r.kill()
        assert not r.group_alive()
        r.start()
        c = swampyer.WAMPClientTicket(url=url, realm="izaber", username="backend-1", password="backend-1-secret",
                                      auto_reconnect=False, timeout=10, serializers=["json"]).start()
        assert c.call(P + "my.metadata.get", "persist?") is None
        close_client(c)
    finally:
        r.stop()
        import shutil

        shutil.rmtree(r.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Zaber's Python library against the fixture
# ---------------------------------------------------------------------------


def test_izaber_wamp_python_library(router):
    """izaber-wamp's client (the library being ported) works with the
    router: it calls with uri_base com.izaber.wamp and the my.otps.* names."""
    import izaber_wamp

    client = izaber_wamp.WAMPClientTicket(
        url=router.url("ws"),
        realm="izaber",
        username="frontend-1",
        password="frontend-1-secret",
        uri_base="com.izaber.wamp",
        serializers=["cbor"],
        auto_reconnect=False,
        timeout=10,
    ).start()
    try:
        assert client.whoami() == {"authid": "frontend-1", "role": "frontend"}
        key = unique("iz.")
        assert client.metadata_set(key, {"v": 1}) == {"v": 1}
        assert client.metadata_get(key) == {"v": 1}
        otp = client.otp_create()
        assert otp["uuid"] in [o["uuid"] for o in client.otp_list()]
        assert client.otp_delete(otp["uuid"]) is True
        name = "roster." + unique()
        client.roster_register(name, {"x": 1})
        assert client.roster_query(name) == [{"x": 1}]
    finally:
        close_client(client)
