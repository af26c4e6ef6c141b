"""An Autobahn|Python peer in WAMP payload passthru mode, for the Rust interop tests
(run with the router venv's python).

In payload passthru mode (WAMP Advanced Profile) PUBLISH, EVENT, CALL, INVOCATION,
YIELD, RESULT and ERROR carry one binary ``payload`` element instead of args/kwargs,
and ``enc_algo`` (plus optionally ``enc_key`` and ``enc_serializer``) in their
options/details. The router forwards them untouched. This peer uses Autobahn's own
mechanism for it: a payload codec (``autobahn.wamp.interfaces.IPayloadCodec``,
installed with ``session.set_payload_codec``) that turns a ``Passthru`` value into an
``autobahn.wamp.types.EncodedPayload`` and back, without touching the bytes.

    autobahn_passthru_peer.py subscribe URL USERNAME PASSWORD TOPIC
        Subscribes to TOPIC, prints READY, then one JSON line per event, and serves
        until its stdin is closed.

    autobahn_passthru_peer.py publish URL USERNAME PASSWORD TOPIC HEX ENC_ALGO [ENC_SERIALIZER]
        Publishes one passthru event (acknowledged) and prints one JSON line:
        {"published": <publication id>} or {"error": <URI or exception>, "args": [...]}.

    autobahn_passthru_peer.py register URL USERNAME PASSWORD PROC
        Registers PROC, prints READY, then answers every passthru invocation by
        echoing its payload back in passthru mode (same enc_algo, enc_serializer and
        enc_key), printing one JSON line per invocation; serves until stdin is closed.
        With --error URI it answers with a passthru ERROR (that URI, same payload).

    autobahn_passthru_peer.py call URL USERNAME PASSWORD PROC HEX ENC_ALGO [ENC_SERIALIZER]
        Calls PROC in passthru mode and prints one JSON line: the passthru result,
        or {"error": <URI>, ...} (with the passthru payload of the ERROR, if any).

HEX must not be empty (Autobahn sends an empty payload as an ordinary message);
ENC_ALGO must be cryptobox, mqtt, xbr or x_... and ENC_SERIALIZER json, msgpack,
cbor, ubjson, flatbuffers or x_... (Autobahn refuses anything else).

A passthru payload is printed as
    {"passthru": true, "payload": "<hex>", "enc_algo": "x_test", "enc_key": null,
     "enc_serializer": null, ...}
with, per mode, "topic"/"publisher_authid" (events) or "procedure"/"caller_authid"
(invocations). A message that arrives with ordinary args/kwargs is printed as
    {"passthru": false, "args": [...], "kwargs": {...}}   (bytes as {"hex": "..."})
(and a register-mode peer echoes such a call's args/kwargs back as they came).

Like swampyer_peer.py, TOPIC and PROC are relative to com.izaber.wamp (``--uri-base
''`` takes them as full URIs), the login is WAMP-Ticket as USERNAME/PASSWORD on realm
izaber, and the serializer is CBOR. Options (before or after the positional
arguments):
    --serializer json|msgpack|cbor|ubjson   (rawsocket: json|msgpack|cbor)
    --realm REALM       (default izaber)
    --uri-base BASE     (default com.izaber.wamp)
    --ca-file PATH      CA to trust for wss:// and tcpips://
    --enc-key KEY       enc_key to send with publish/call
    --error URI         register mode: answer with a passthru ERROR
    --timeout SECONDS   for connecting and for each request (default 15)
URL: ws://, wss://, tcpip:// and tcpips:// (RawSocket), unix:///path (RawSocket).

Logs go to stderr; stdout only carries READY and the JSON lines. Exit status 0 when
the session was joined (a refused request is reported as JSON), 1 when the peer could
not connect or log in (details on stderr and as {"error": ...} on stdout).
"""

import argparse
import asyncio
import binascii
import json
import ssl
import sys
from urllib.parse import urlparse

import txaio

txaio.use_asyncio()

from autobahn.asyncio.component import Component  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.interfaces import IPayloadCodec  # noqa: E402
from autobahn.wamp.message import is_valid_enc_algo, is_valid_enc_serializer  # noqa: E402
from autobahn.wamp.types import (  # noqa: E402
    CallResult,
    EncodedPayload,
    PublishOptions,
    RegisterOptions,
    SubscribeOptions,
)


class Passthru:
    """An application payload in passthru mode: opaque bytes plus the enc_* attributes."""

    def __init__(self, payload, enc_algo, enc_serializer=None, enc_key=None):
        self.payload = payload
        self.enc_algo = enc_algo
        self.enc_serializer = enc_serializer
        self.enc_key = enc_key

    def to_json(self, **extra):
        out = {
            "passthru": True,
            "payload": binascii.b2a_hex(self.payload).decode("ascii"),
            "enc_algo": self.enc_algo,
            "enc_key": self.enc_key,
            "enc_serializer": self.enc_serializer,
        }
        out.update(extra)
        return out


class PassthruCodec(IPayloadCodec):
    """Autobahn payload codec that maps Passthru values to and from EncodedPayload.

    encode(): a message whose only application payload is one Passthru value (and no
    kwargs) is sent in passthru mode; anything else normally (returning None tells
    Autobahn to use args/kwargs). decode(): every passthru payload received becomes
    a single Passthru argument; the URI is returned unchanged (Autobahn checks it
    against the message's envelope).
    """

    def encode(self, is_originating, uri, args=None, kwargs=None):
        if args and len(args) == 1 and isinstance(args[0], Passthru) and not kwargs:
            p = args[0]
            return EncodedPayload(p.payload, p.enc_algo, p.enc_serializer, p.enc_key)
        return None

    def decode(self, is_originating, uri, encoded_payload):
        p = encoded_payload
        return uri, [Passthru(p.payload, p.enc_algo, p.enc_serializer, p.enc_key)], {}


IPayloadCodec.register(PassthruCodec)


def plain(value):
    """A JSON-able copy of an ordinary (non-passthru) WAMP value."""
    if isinstance(value, Passthru):
        return value.to_json()
    if isinstance(value, (bytes, bytearray)):
        return {"hex": binascii.b2a_hex(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def full_uri(base, name):
    return base + "." + name if base else name


def transport_config(url, serializer, ca_file, timeout):
    """An Autobahn Component transport for one of the router's URL forms."""
    u = urlparse(url)
    tls = None
    if u.scheme in ("wss", "tcpips"):
        tls = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if u.scheme in ("ws", "wss"):
        endpoint = {"type": "tcp", "host": u.hostname, "port": u.port or (443 if tls else 80), "timeout": int(timeout)}
        if tls:
            endpoint["tls"] = tls
        return {"type": "websocket", "url": url, "endpoint": endpoint, "serializers": [serializer], "max_retries": 0}
    if u.scheme in ("tcpip", "tcpips"):
        endpoint = {"type": "tcp", "host": u.hostname, "port": u.port, "timeout": int(timeout)}
        if tls:
            endpoint["tls"] = tls
        rs_url = "{}://{}:{}".format("rss" if tls else "rs", u.hostname, u.port)
    elif u.scheme == "unix":
        endpoint = {"type": "unix", "path": u.path, "timeout": int(timeout)}
        rs_url = "rs://unix" + u.path
    else:
        raise SystemExit("unsupported URL scheme in " + url)
    return {"type": "rawsocket", "url": rs_url, "endpoint": endpoint, "serializer": serializer, "max_retries": 0}


async def open_session(args):
    """Connect, log in, install the passthru codec; returns (session, component-done future)."""
    loop = asyncio.get_running_loop()
    joined = loop.create_future()
    comp = Component(
        transports=[transport_config(args.url, args.serializer, args.ca_file, args.timeout)],
        realm=args.realm,
        authentication={"ticket": {"authid": args.username, "ticket": args.password}},
    )

    @comp.on_join
    def _joined(session, details):
        session.set_payload_codec(PassthruCodec())
        if not joined.done():
            joined.set_result(session)

    @comp.on_leave
    def _left(session, details):
        if not joined.done():
            joined.set_exception(ConnectionError("session ended before it was joined: {}: {}".format(
                details.reason, details.message)))

    done = comp.start(loop=loop)
    waiter = asyncio.ensure_future(asyncio.wait_for(asyncio.shield(joined), args.timeout))
    await asyncio.wait([waiter, done], return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():
        waiter.cancel()
        exc = done.exception() if not done.cancelled() else None
        if joined.done() and joined.exception() is not None:
            raise joined.exception()
        raise ConnectionError("could not connect: {!r}".format(exc))
    return waiter.result(), done


async def close_session(session, done):
    if session.is_attached():
        session.leave()
    try:
        await asyncio.wait_for(done, 5)
    except Exception:
        pass


def error_json(ex):
    if isinstance(ex, ApplicationError):
        return {"error": ex.error, "args": plain(list(ex.args)), "kwargs": plain(ex.kwargs or {})}
    return {"error": type(ex).__name__, "args": [str(a) for a in ex.args]}


async def wait_for_stdin_eof():
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def mode_subscribe(args, session):
    topic = full_uri(args.uri_base, args.name)

    def on_event(*a, details=None, **kw):
        extra = {"topic": details.topic, "publisher_authid": details.publisher_authid}
        if len(a) == 1 and isinstance(a[0], Passthru) and not kw:
            emit(a[0].to_json(**extra))
        else:
            emit(dict(extra, passthru=False, args=plain(list(a)), kwargs=plain(kw)))

    await session.subscribe(on_event, topic, options=SubscribeOptions(details_arg="details"))
    print("READY", flush=True)
    await wait_for_stdin_eof()


async def mode_register(args, session):
    procedure = full_uri(args.uri_base, args.name)

    def on_invocation(*a, details=None, **kw):
        extra = {"procedure": details.procedure or procedure, "caller_authid": details.caller_authid}
        if len(a) == 1 and isinstance(a[0], Passthru) and not kw:
            p = a[0]
            emit(p.to_json(**extra))
            echo = Passthru(p.payload, p.enc_algo, p.enc_serializer, p.enc_key)
            if args.error:
                raise ApplicationError(args.error, echo)
            return echo
        emit(dict(extra, passthru=False, args=plain(list(a)), kwargs=plain(kw)))
        if args.error:
            raise ApplicationError(args.error, *a, **kw)
        return CallResult(*a, **kw)

    await session.register(on_invocation, procedure, options=RegisterOptions(details_arg="details"))
    print("READY", flush=True)
    await wait_for_stdin_eof()


async def mode_publish(args, session):
    topic = full_uri(args.uri_base, args.name)
    value = Passthru(bytes.fromhex(args.hex), args.enc_algo, args.enc_serializer, args.enc_key)
    try:
        pub = await asyncio.wait_for(
            session.publish(topic, value, options=PublishOptions(acknowledge=True)), args.timeout
        )
        emit({"published": pub.id})
    except Exception as ex:
        emit(error_json(ex))


async def mode_call(args, session):
    procedure = full_uri(args.uri_base, args.name)
    value = Passthru(bytes.fromhex(args.hex), args.enc_algo, args.enc_serializer, args.enc_key)
    try:
        result = await asyncio.wait_for(
            session.call(procedure, value), args.timeout
        )
    except Exception as ex:
        emit(error_json(ex))
        return
    if isinstance(result, Passthru):
        emit(result.to_json(procedure=procedure))
    elif isinstance(result, CallResult):
        emit({"passthru": False, "args": plain(list(result.results)), "kwargs": plain(result.kwresults)})
    else:
        emit({"passthru": False, "args": plain([result]) if result is not None else [], "kwargs": {}})


MODES = {
    "subscribe": (mode_subscribe, False),
    "register": (mode_register, False),
    "publish": (mode_publish, True),
    "call": (mode_call, True),
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("url")
    p.add_argument("username")
    p.add_argument("password")
    p.add_argument("name", metavar="TOPIC_OR_PROC")
    p.add_argument("hex", nargs="?", help="payload (hex) for publish/call")
    p.add_argument("enc_algo", nargs="?", help="enc_algo for publish/call, e.g. x_test, cryptobox, mqtt")
    p.add_argument("enc_serializer", nargs="?", help="optional enc_serializer for publish/call")
    p.add_argument("--serializer", default="cbor", choices=["json", "msgpack", "cbor", "ubjson"])
    p.add_argument("--realm", default="izaber")
    p.add_argument("--uri-base", default="com.izaber.wamp")
    p.add_argument("--ca-file")
    p.add_argument("--enc-key")
    p.add_argument("--error", metavar="URI")
    p.add_argument("--timeout", type=float, default=15.0)
    args = p.parse_args(argv)
    one_shot = MODES[args.mode][1]
    if one_shot and (args.hex is None or args.enc_algo is None):
        p.error("{} needs HEX and ENC_ALGO".format(args.mode))
    if not one_shot and args.hex is not None:
        p.error("{} takes no payload arguments".format(args.mode))
    if args.hex is not None:
        try:
            payload = bytes.fromhex(args.hex)
        except ValueError:
            p.error("HEX is not hexadecimal: {!r}".format(args.hex))
        if not payload:
            # Autobahn marshals a message whose payload is b"" as an ordinary one (it tests
            # `if self.payload:`), so an empty passthru payload cannot be sent from here.
            p.error("HEX must not be empty: Autobahn cannot send an empty passthru payload")
    # Autobahn asserts these when building the message; say so clearly instead
    if args.enc_algo is not None and not is_valid_enc_algo(args.enc_algo):
        p.error("ENC_ALGO must be cryptobox, mqtt, xbr or start with x_: {!r}".format(args.enc_algo))
    if args.enc_serializer is not None and not is_valid_enc_serializer(args.enc_serializer):
        p.error(
            "ENC_SERIALIZER must be json, msgpack, cbor, ubjson, flatbuffers or start with x_: {!r}".format(
                args.enc_serializer
            )
        )
    return args


async def main(args):
    # Autobahn creates its futures on txaio's loop
    txaio.config.loop = asyncio.get_running_loop()
    run, _ = MODES[args.mode]
    try:
        session, done = await open_session(args)
    except Exception as ex:
        print("autobahn_passthru_peer: {}".format(ex), file=sys.stderr, flush=True)
        emit({"error": type(ex).__name__, "args": [str(ex)]})
        return 1
    try:
        await run(args, session)
    finally:
        await close_session(session, done)
    return 0


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    txaio.start_logging(out=sys.stderr, level="warn")
    sys.exit(asyncio.run(main(arguments)))
