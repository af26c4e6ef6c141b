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

``prepare`` also writes the private key of the WAMP-Cryptosign user into
``DIR/keys/`` in the two on-disk formats clients load keys from: an
unencrypted OpenSSH private key (``cs-backend.ssh``) and Crossbar's key file
format (``cs-backend.priv``, like ``.crossbar/key.priv``).

Only the standard library, ``cryptography`` and ``argon2-cffi`` (dependencies
of crossbar) are used here; the Nexus behaviour itself lives in
nexus_component.py, and a ZERP-like backend in zerp_component.py (see ZERP.md),
which the router worker loads from this directory.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
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

# Static WAMP-Cryptosign users (Ed25519). The private key is fixed here as its
# 32-byte seed, like the fixed passwords above (test-only, loopback-only
# router); the public key is derived from it at prepare time and is the only
# key in the principal's authorized_keys. "unauthorized_seed" is a second key
# that no principal lists, for wrong-key tests.
CRYPTOSIGN_USERS = [
    {
        "username": "cs-backend",
        "role": "backend",
        "seed": "be2eb1178ee3a9596fc3204dbdeb5bf9f107b17c889db1a6533427ad7637209a",
        "unauthorized_seed": "26e8651b8064f5ad1511a13875553354cd86eec05d1340b716ebd8463fc77087",
    },
]

# Static WAMP-SCRAM users, one per key-derivation function Crossbar supports
# (crossbar/common/checkconfig.py: "argon2id-13" and "pbkdf2"). Crossbar stores
# only stored-key/server-key (derived here at prepare time, see scram_credential);
# the cost parameters are small so that logins are fast.
SCRAM_USERS = [
    {
        "username": "scram-argon2",
        "password": "scram-argon2-secret",
        "role": "backend",
        "kdf": "argon2id-13",
        "salt": "99bd9792bd9fff503470bcae4bde7edb",
        "iterations": 3,
        "memory": 4096,  # KiB
    },
    {
        "username": "scram-pbkdf2",
        "password": "scram-pbkdf2-secret",
        "role": "frontend",
        "kdf": "pbkdf2",
        "salt": "632789fc8f32015a1988e6a653b6c907",
        "iterations": 1000,
        # Crossbar requires "memory" on every principal and sends it in the
        # challenge even for pbkdf2, which has no such parameter.
        "memory": 0,
    },
]

ROLES = ["public", "frontend", "backend", "trust"]

# Every login of the router: each has a res.users record in the ZERP databases, as ZERP only
# serves callers whose login it knows.
ALL_USERS = TICKET_USERS + CRA_USERS + CRYPTOSIGN_USERS + SCRAM_USERS

# Procedures of nexus_component.py that are not part of Nexus (trust only,
# since every URI outside com.izaber.wamp.* is trust only).
AUTHENTICATOR_URI = "nexus.auth.authenticate"
AUTHORIZER_URI = "nexus.auth.authorize"
AGE_OTP_URI = "nexus.testing.otp.age"

# The ZERP-like backend (zerp_component.py, contract in ZERP.md): its databases, and the
# call grant a real Nexus gives ordinary (frontend) users through its role database, here for
# the sandbox only, so that both an allowed and a refused frontend call can be tested.
ZERP_DATABASES = ["sandbox", "testing"]
ZERP_FRONTEND_CALL_PREFIXES = ["com.izaber.wamp.zerp:sandbox:"]
ZERP_FIXTURE_PREFIX = "com.izaber.wamp.zerp.fixture."

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


# ---------------------------------------------------------------------------
# WAMP-Cryptosign and WAMP-SCRAM credentials
# ---------------------------------------------------------------------------


def ed25519_public_hex(seed_hex):
    """The Ed25519 public key (hex) of the private key with this 32-byte seed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def write_private_file(path, data):
    """Write `data` (str) to `path` with mode 0600 from the start (replacing what is there)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(data)


def openssh_private_key(seed_hex, comment):
    """An unencrypted OpenSSH private key file (``-----BEGIN OPENSSH PRIVATE KEY-----``),
    what ``ssh-keygen -t ed25519`` writes and autobahn's
    ``CryptosignKey.from_ssh_file`` reads. cryptography writes no comment, so the
    comment field is patched in (its encoding is a plain SSH string)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode("ascii")
    if not comment:
        return pem
    return _openssh_with_comment(pem, comment)


def _openssh_with_comment(pem, comment):
    """Rebuild an unencrypted openssh-key-v1 blob with `comment` in its private section."""
    import struct

    lines = pem.strip().splitlines()
    blob = base64.b64decode("".join(lines[1:-1]))
    magic = b"openssh-key-v1\0"
    assert blob.startswith(magic)
    pos = len(magic)

    def read_string(buf, at):
        (n,) = struct.unpack(">I", buf[at : at + 4])
        return buf[at + 4 : at + 4 + n], at + 4 + n

    def string(b):
        return struct.pack(">I", len(b)) + b

    cipher, pos = read_string(blob, pos)
    kdf, pos = read_string(blob, pos)
    kdf_options, pos = read_string(blob, pos)
    (nkeys,) = struct.unpack(">I", blob[pos : pos + 4])
    pos += 4
    public, pos = read_string(blob, pos)
    private, pos = read_string(blob, pos)
    assert cipher == b"none" and nkeys == 1
    # private section: check1 check2 keytype pubkey privkey comment padding
    p = 8
    keytype, p = read_string(private, p)
    pub, p = read_string(private, p)
    priv, p = read_string(private, p)
    section = private[:8] + string(keytype) + string(pub) + string(priv) + string(comment.encode())
    section += bytes(range(1, 1 + (-len(section) % 8)))  # padding 1, 2, 3, ... to the block size 8
    out = magic + string(cipher) + string(kdf) + string(kdf_options) + struct.pack(">I", 1)
    out += string(public) + string(section)
    b64 = base64.b64encode(out).decode("ascii")
    body = "\n".join(b64[i : i + 70] for i in range(0, len(b64), 70))
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + body + "\n-----END OPENSSH PRIVATE KEY-----\n"


def crossbar_key_file(seed_hex, public_hex, authid):
    """Crossbar's key file text, as crossbar.common.key._maybe_generate_node_key writes
    ``.crossbar/key.priv``: comment lines, a blank line, then ``tag: value`` lines
    (read by crossbar's _parse_node_key and autobahn's parse_keyfile /
    CryptosignKey.from_keyfile). Crossbar also writes an Ethereum key pair
    (``public-adr-eth``, ``private-key-eth``); those tags are optional to both
    readers and left out here."""
    now = datetime.datetime.now(datetime.timezone.utc)
    created = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # autobahn.util.utcnow()
    tags = [
        ("creator", "izaber-wamp-tests@localhost"),
        ("created-at", created),
        ("machine-id", "izaber-wamp-test-router"),
        ("node-authid", authid),
        ("node-cluster-ip", "127.0.0.1"),
        ("public-key-ed25519", public_hex),
        ("private-key-ed25519", seed_hex),
    ]
    text = "Crossbar.io node private key - KEEP THIS SAFE!\n\n"
    for tag, value in tags:
        text += "{}: {}\n".format(tag, value)
    return text


def scram_salted_password(kdf, password, salt, iterations, memory):
    """SaltedPassword of WAMP-SCRAM exactly as Autobahn|Python's client computes it
    (autobahn/wamp/auth.py, AuthScram.on_challenge):

    * argon2id-13: Argon2id v1.3, parallelism 1, 32-byte hash, over the raw salt;
      the SaltedPassword is NOT the raw hash but its unpadded standard base64
      text (as it appears in the PHC string "$argon2id$v=19$m=..,t=..,p=1$salt$hash"),
      taken as ASCII bytes.
    * pbkdf2: PBKDF2-HMAC-SHA256 over the raw salt, 32 bytes (raw). (Autobahn's
      own client passes the base64 salt text to its pbkdf2 helper and fails
      there; the RFC 5802 meaning, the raw salt, is used here.)
    """
    if kdf == "argon2id-13":
        from argon2.low_level import Type, hash_secret_raw

        raw = hash_secret_raw(
            secret=password.encode("utf-8"),
            salt=salt,
            time_cost=iterations,
            memory_cost=memory,
            parallelism=1,
            hash_len=32,
            type=Type.ID,
            version=0x13,
        )
        return base64.b64encode(raw).rstrip(b"=")
    if kdf == "pbkdf2":
        return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, 32)
    raise ValueError("unknown SCRAM kdf " + kdf)


def scram_credential(user):
    """A static Crossbar WAMP-SCRAM principal for `user` (hex salt/keys, as Crossbar wants)."""
    salt = bytes.fromhex(user["salt"])
    salted = scram_salted_password(user["kdf"], user["password"], salt, user["iterations"], user["memory"])
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return {
        "kdf": user["kdf"],
        "iterations": user["iterations"],
        "memory": user["memory"],
        "salt": user["salt"],
        "stored-key": hashlib.sha256(client_key).hexdigest(),
        "server-key": hmac.new(salted, b"Server Key", hashlib.sha256).hexdigest(),
        "role": user["role"],
    }


def transport_auth(scram_principals=None):
    """Authentication offered on every transport, as on Nexus (plus WAMP-CRA,
    WAMP-Cryptosign and WAMP-SCRAM). `scram_principals`: the result of
    scram_principals(), computed once (Argon2 takes a moment)."""
    cra_users = {}
    for u in CRA_USERS:
        entry = {"secret": u["password"], "role": u["role"]}
        for k in ("salt", "iterations", "keylen"):
            if k in u:
                entry[k] = u[k]
        cra_users[u["username"]] = entry
    cryptosign = {
        u["username"]: {"authorized_keys": [ed25519_public_hex(u["seed"])], "role": u["role"], "realm": REALM}
        for u in CRYPTOSIGN_USERS
    }
    if scram_principals is None:
        scram_principals = {u["username"]: scram_credential(u) for u in SCRAM_USERS}
    return {
        "ticket": {
            "type": "dynamic",
            "authenticator": AUTHENTICATOR_URI,
            "authenticator-realm": REALM,
            # the router's built-in service session calls the authenticator
            "authenticator-role": "trusted",
        },
        "wampcra": {"type": "static", "users": cra_users},
        "cryptosign": {"type": "static", "principals": cryptosign},
        "scram": {"type": "static", "principals": scram_principals},
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
                    "auth": transport_auth(scram_principals),
                },
            },
        }

    def rawsocket(endpoint):
        return {
            "type": "rawsocket",
            "endpoint": endpoint,
            "serializers": rs_serializers,
            "options": rs_options,
            "auth": transport_auth(scram_principals),
        }

    roles = [{"name": r, "authorizer": AUTHORIZER_URI} for r in ROLES]
    scram_principals = {u["username"]: scram_credential(u) for u in SCRAM_USERS}

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
                            "frontend_call_prefixes": ZERP_FRONTEND_CALL_PREFIXES,
                        },
                    },
                    # after Nexus: it logs in as a backend (the authorizer must be there)
                    # and announces its databases in Nexus' roster
                    {
                        "type": "class",
                        "classname": "zerp_component.ZerpComponent",
                        "realm": REALM,
                        "role": "backend",
                        "extra": {
                            "databases": ZERP_DATABASES,
                            "logins": [u["username"] for u in ALL_USERS],
                        },
                    },
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


def write_cryptosign_keys(directory):
    """Write each Cryptosign user's private key into DIR/keys in both file formats;
    returns {username: (ssh_key_file, crossbar_key_file)}."""
    keys_dir = os.path.join(directory, "keys")
    os.makedirs(keys_dir, exist_ok=True)
    files = {}
    for u in CRYPTOSIGN_USERS:
        public_hex = ed25519_public_hex(u["seed"])
        ssh_path = os.path.join(keys_dir, u["username"] + ".ssh")
        cb_path = os.path.join(keys_dir, u["username"] + ".priv")
        write_private_file(ssh_path, openssh_private_key(u["seed"], u["username"] + "@izaber-wamp-tests"))
        write_private_file(cb_path, crossbar_key_file(u["seed"], public_hex, u["username"]))
        files[u["username"]] = (ssh_path, cb_path)
    return files


def describe_users(key_files):
    """The `users` list of the description. Every entry has username, password,
    role and authmethod (strings): for Cryptosign users "password" is the
    private key's seed (hex), the secret such a client is given."""
    users = [dict(u, authmethod="ticket") for u in TICKET_USERS]
    users += [dict(u, authmethod="wampcra") for u in CRA_USERS]
    for u in CRYPTOSIGN_USERS:
        ssh_path, cb_path = key_files[u["username"]]
        users.append(
            {
                "username": u["username"],
                "password": u["seed"],
                "role": u["role"],
                "authmethod": "cryptosign",
                "private_seed_hex": u["seed"],
                "public_key_hex": ed25519_public_hex(u["seed"]),
                "ssh_key_file": ssh_path,
                "crossbar_key_file": cb_path,
                "unauthorized_seed_hex": u["unauthorized_seed"],
                "unauthorized_public_key_hex": ed25519_public_hex(u["unauthorized_seed"]),
            }
        )
    for u in SCRAM_USERS:
        users.append(
            {
                "username": u["username"],
                "password": u["password"],
                "role": u["role"],
                "authmethod": "scram",
                "kdf": u["kdf"],
                "iterations": u["iterations"],
                "memory": u["memory"],
                "salt_hex": u["salt"],
            }
        )
    return users


def describe(directory, ports, unix_path, ca_path, key_files):
    users = describe_users(key_files)
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
        "procedures": {
            "age_otp": AGE_OTP_URI,
            "zerp_reset": ZERP_FIXTURE_PREFIX + "reset",
            "zerp_calls": ZERP_FIXTURE_PREFIX + "calls",
            "zerp_clear_calls": ZERP_FIXTURE_PREFIX + "clear_calls",
            "zerp_snapshot": ZERP_FIXTURE_PREFIX + "snapshot",
        },
        "zerp": {
            "databases": ZERP_DATABASES,
            "uri_prefix": "com.izaber.wamp.zerp",
            "frontend_call_prefixes": ZERP_FRONTEND_CALL_PREFIXES,
        },
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

    key_files = write_cryptosign_keys(directory)
    info = describe(directory, ports, unix_path, ca_path, key_files)
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
