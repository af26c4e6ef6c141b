"""A Python swampyer peer for the Rust interop tests (run with the router venv's python).

    swampyer_peer.py caller URL USERNAME PASSWORD PROCEDURE ARGS_JSON KWARGS_JSON
        Calls PROCEDURE (relative to com.izaber.wamp) and prints one JSON line:
        {"result": ...} or {"error": "<exception class>", "args": [...]}.

    swampyer_peer.py callee URL USERNAME PASSWORD PROCEDURE
        Registers PROCEDURE (echoes args, kwargs and the caller's authid) and
        PROCEDURE.fail (raises an exception, as a failing Python service would),
        prints READY, and serves until its stdin is closed.
"""

import json
import sys

import swampyer


def close(client):
    # swampyer's shutdown() polls for up to 10 s until the state is disconnected;
    # disconnecting first makes it return at once.
    client.disconnect()
    client.shutdown()


def connect(url, username, password):
    return swampyer.WAMPClientTicket(
        url=url,
        realm="izaber",
        username=username,
        password=password,
        uri_base="com.izaber.wamp",
        serializers=["cbor"],
        auto_reconnect=False,
        timeout=10,
    ).start()


def caller(url, username, password, procedure, args_json, kwargs_json):
    client = connect(url, username, password)
    try:
        result = client.call(procedure, *json.loads(args_json), **json.loads(kwargs_json))
        print(json.dumps({"result": result}), flush=True)
    except Exception as ex:  # the shape a Python caller sees is what we report
        print(json.dumps({"error": type(ex).__name__, "args": list(ex.args)}), flush=True)
    finally:
        close(client)


def callee(url, username, password, procedure):
    client = connect(url, username, password)

    def echo(event, *args, **kwargs):
        return {
            "args": list(args),
            "kwargs": kwargs,
            "caller": event.details.get("caller_authid"),
        }

    def fail(event, *args, **kwargs):
        raise ValueError("python says no", 42)

    client.register(procedure, echo)
    client.register(procedure + ".fail", fail)
    print("READY", flush=True)
    sys.stdin.read()
    close(client)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "caller":
        caller(*sys.argv[2:8])
    elif mode == "callee":
        callee(*sys.argv[2:6])
    else:
        sys.exit("unknown mode " + mode)
