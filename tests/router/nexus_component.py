"""The Nexus part of the test router: a Crossbar router component.

Crossbar loads this class into the router worker (see router.py: component
``nexus_component.NexusComponent`` joined with the built-in ``trusted`` role,
worker ``pythonpath`` pointing at this directory). It reproduces what a client
sees of Zaber's Nexus, as described in shared/nexus-api.md:

* the dynamic WAMP-Ticket authenticator (passwords, one-time passwords,
  API keys) and the dynamic authorizer for the roles public / frontend /
  backend / trust;
* the procedures auth.whoami, system.roster.*, my.metadata.*, my.otps.* (and
  the old my.otp.*), my.apikeys.*, ad.users and ad.groups, each registered
  under its bare name and under ``com.izaber.wamp.<name>``.

Everything is kept in memory and resets with the router.

One addition for tests, not in Nexus: ``nexus.testing.otp.age(uuid, seconds)``
moves a one-time password's expiry ``seconds`` into the past (trust only, like
every URI outside com.izaber.wamp.*), so that expiry can be tested without
waiting ten minutes.
"""

import base64
import copy
import datetime
import hashlib
import secrets
import time
import uuid

import yaml as pyyaml  # procedures have an argument called `yaml`
from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet.defer import inlineCallbacks, maybeDeferred

URI_PREFIX = "com.izaber.wamp."
ERROR_URI = "com.izaber.wamp.error"
PERMISSION_DENIED_URI = "com.izaber.wamp.error.permissiondenied"
PERMISSION_DENIED_MESSAGE = "Permission Denied"

OTP_LIFETIME = datetime.timedelta(minutes=10)

# Procedures a frontend session may call besides its own prefixes.
FRONTEND_CALL_PREFIXES = (URI_PREFIX + "auth.", URI_PREFIX + "my.")
ROSTER_PROCEDURES = tuple(
    URI_PREFIX + "system.roster." + op for op in ("register", "unregister", "query")
)


class PermissionDenied(Exception):
    """Raised by a procedure; the caller gets com.izaber.wamp.error.permissiondenied."""


def new_uid():
    """A Nexus-style record id: a UUID in url-safe base64 (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")


def user_uid(login):
    """A stable record id for a user, used as the ``owner`` of its records."""
    u = uuid.uuid5(uuid.NAMESPACE_URL, "izaber-wamp-test-user:" + login)
    return base64.urlsafe_b64encode(u.bytes).rstrip(b"=").decode("ascii")


def hash_key(login, plaintext):
    """The stored ``key`` of an OTP or API key: a salted hash of the plaintext."""
    digest = hashlib.pbkdf2_hmac("sha256", plaintext.encode(), login.encode(), 1000)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_expiry(value):
    """Parse an ``expires`` value (ISO 8601; naive means UTC). None: never."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        dt = value
    else:
        dt = datetime.datetime.fromisoformat(str(value))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt


def peer_address(session_info):
    """The client's address from wamp.session.get, as Nexus reports it.

    Crossbar gives the peer as e.g. ``tcp4:127.0.0.1:50000``; Nexus keeps the
    part after the first colon, and the peer as is when it has none.
    """
    transport = (session_info or {}).get("transport") or {}
    headers = transport.get("http_headers_received") or {}
    peer = headers.get("x-real-ip") or headers.get("x-forwarded-for")
    if peer and "," in peer:
        peer = peer.split(",")[0].strip()
    if not peer:
        peer = transport.get("peer")
        if peer and ":" in peer:
            peer = peer.split(":")[1]
    return peer or "unknown"


def bare_name(uri):
    return uri[len(URI_PREFIX):] if uri.startswith(URI_PREFIX) else uri


def is_credential_uri(uri):
    """my.otp* and my.apikeys*: what OTP/API-key sessions may not touch."""
    name = bare_name(uri)
    return name.startswith("my.otp") or name.startswith("my.apikeys")


def role_allows(role, uri, action, frontend_call_prefixes=()):
    """The role table of nexus-api.md. `action` is call/register/subscribe/publish.

    `frontend_call_prefixes`: URIs a frontend session may call besides the table's, the
    grants a real Nexus keeps in its role database (router.py: the ZERP sandbox)."""
    if role == "trust":
        return True
    if role == "backend":
        return uri.startswith(URI_PREFIX)
    if role == "frontend":
        if uri.startswith(URI_PREFIX + "public.") or uri.startswith(URI_PREFIX + "frontend."):
            return True
        if action == "call":
            return (
                uri.startswith(FRONTEND_CALL_PREFIXES)
                or uri in ROSTER_PROCEDURES
                or uri.startswith(tuple(frontend_call_prefixes))
            )
        return False
    if role == "public":
        if uri.startswith(URI_PREFIX + "public."):
            return True
        return action == "call" and uri == URI_PREFIX + "system.roster.query"
    return False


def roster_allows(role, name, op):
    """Roster permissions: ``o`` (register/unregister) and ``q`` (query).

    public: roster.* q; frontend and backend: roster.* oq; trust: anything.
    """
    if role in ("trust", "trusted"):
        return True
    if not name.startswith("roster."):
        return False
    if role in ("frontend", "backend"):
        return op in ("o", "q")
    if role == "public":
        return op == "q"
    return False


def visible_to(visibility, role):
    if role in ("trust", "trusted"):
        return True
    if isinstance(visibility, str):
        return visibility in ("*", role)
    try:
        return "*" in visibility or role in visibility
    except TypeError:
        return False


class NexusComponent(ApplicationSession):
    def __init__(self, config=None):
        super().__init__(config)
        extra = dict(config.extra or {}) if config else {}
        self.users = {}
        for u in extra.get("users", []):
            self.users[u["username"].lower()] = {"password": u["password"], "role": u["role"]}
        # logins known to the directory (ad.users) but authenticated elsewhere
        self.cra_users = {u["username"]: u["role"] for u in extra.get("cra_users", [])}
        self.authenticator_uri = extra.get("authenticator_uri", "nexus.auth.authenticate")
        self.authorizer_uri = extra.get("authorizer_uri", "nexus.auth.authorize")
        self.age_otp_uri = extra.get("age_otp_uri", "nexus.testing.otp.age")
        self.frontend_call_prefixes = tuple(extra.get("frontend_call_prefixes", ()))

        self.otps = {}  # uid -> record (plus "_expires" datetime)
        self.apikeys = {}  # uid -> record
        self.metadata = {}  # login -> {key -> {"uuid", "owner", "value"}}
        self.roster = {}  # (session_id, name) -> record

    # ------------------------------------------------------------------
    # start-up
    # ------------------------------------------------------------------

    @inlineCallbacks
    def onJoin(self, details):
        # Crossbar starts the transports only once this returns, so everything
        # is registered before the first client can connect.
        yield self.register(self.authenticate, self.authenticator_uri)
        yield self.register(self.authorize, self.authorizer_uri)

        procedures = {
            "auth.whoami": self.auth_whoami,
            "system.roster.register": self.roster_register,
            "system.roster.query": self.roster_query,
            "system.roster.unregister": self.roster_unregister,
            "my.metadata.set": self.metadata_set,
            "my.metadata.get": self.metadata_get,
            "my.metadata.list": self.metadata_list,
            "my.metadata.delete": self.metadata_delete,
            "my.otps.create": self.otp_create,
            "my.otps.list": self.otp_list,
            "my.otps.delete": self.otp_delete,
            # the names older Nexus servers and the Nexus docs use
            "my.otp.create": self.otp_create,
            "my.otp.list": self.otp_list,
            "my.otp.delete": self.otp_delete,
            "my.apikeys.create": self.apikeys_create,
            "my.apikeys.list": self.apikeys_list,
            "my.apikeys.delete": self.apikeys_delete,
            "ad.users": self.ad_users,
            "ad.groups": self.ad_groups,
        }
        for name, fn in procedures.items():
            endpoint = self._endpoint(fn)
            for uri in (name, URI_PREFIX + name):
                yield self.register(endpoint, uri, options=RegisterOptions(details_arg="details"))

        yield self.register(
            self._endpoint(self.testing_age_otp),
            self.age_otp_uri,
            options=RegisterOptions(details_arg="details"),
        )

        # roster entries die with their session, however it ends
        yield self.subscribe(self.on_session_leave, "wamp.session.on_leave")
        self.log.info("nexus test component ready: {n} procedures", n=2 * len(procedures) + 1)

    def _endpoint(self, fn):
        """Wrap a procedure so its failures reach the caller as Nexus reports them."""

        @inlineCallbacks
        def endpoint(*args, details=None, **kwargs):
            try:
                result = yield maybeDeferred(fn, *args, details=details, **kwargs)
            except PermissionDenied:
                raise ApplicationError(PERMISSION_DENIED_URI, PERMISSION_DENIED_MESSAGE)
            except ApplicationError:
                raise
            except Exception as ex:  # bad arguments included, as on Nexus
                self.log.info("procedure failed: {ex!r}", ex=ex)
                raise ApplicationError(ERROR_URI, str(ex))
            return result

        return endpoint

    # ------------------------------------------------------------------
    # authentication and authorization
    # ------------------------------------------------------------------

    def authenticate(self, realm, authid, details):
        """Dynamic WAMP-Ticket authenticator, called by crossbar.

        The ticket may be the user's password, an unexpired one-time password
        (consumed by this login) or an API key. OTP and API-key sessions are
        flagged with ``has_restrictions`` for the authorizer.
        """
        login = (authid or "").lower()  # Nexus logins are case-insensitive
        ticket = (details or {}).get("ticket")
        user = self.users.get(login)
        restricted = None
        if login and isinstance(ticket, str) and ticket and user:
            if secrets.compare_digest(ticket.encode(), user["password"].encode()):
                restricted = False
            elif self._consume_otp(login, ticket):
                restricted = True
            elif self._valid_apikey(login, ticket):
                restricted = True
        if restricted is None:
            self.log.info("ticket login refused for authid {authid!r}", authid=authid)
            raise ApplicationError(PERMISSION_DENIED_URI, PERMISSION_DENIED_MESSAGE)
        return {
            "authid": login,
            "role": user["role"],
            "extra": {"cache_id": new_uid(), "has_restrictions": restricted},
        }

    def _consume_otp(self, login, ticket):
        """True if `ticket` is a live OTP of `login`; the OTP is used up either way."""
        key = hash_key(login, ticket)
        for uid, rec in list(self.otps.items()):
            if rec["login"] == login and secrets.compare_digest(rec["key"], key):
                del self.otps[uid]
                return rec["_expires"] > now_utc()
        return False

    def _valid_apikey(self, login, ticket):
        key = hash_key(login, ticket)
        for rec in self.apikeys.values():
            if rec["_login"] == login and secrets.compare_digest(rec["key"], key):
                expires = parse_expiry(rec["expires"])
                return expires is None or expires > now_utc()
        return False

    def authorize(self, session, uri, action, options=None):
        """Dynamic authorizer for every role.

        Crossbar caches a decision per (realm, role, URI, action), so only the
        decisions that do not depend on the session may be cached: those for
        my.otp*/my.apikeys* depend on the session's restrictions.
        """
        role = session.get("authrole")
        extra = session.get("authextra") or {}
        allow = role_allows(role, uri, action, self.frontend_call_prefixes)
        if allow and extra.get("has_restrictions") and is_credential_uri(uri):
            allow = False
        decision = {"allow": allow, "cache": not is_credential_uri(uri)}
        if action in ("call", "publish"):
            # Nexus shows callees and subscribers who is calling/publishing
            decision["disclose"] = True
        return decision

    # ------------------------------------------------------------------
    # helpers for procedures
    # ------------------------------------------------------------------

    @staticmethod
    def _caller(details):
        if details is None or not details.caller_authid:
            # only possible if the router did not disclose the caller
            raise PermissionDenied()
        return details.caller_authid, details.caller_authrole, details.caller

    # ------------------------------------------------------------------
    # auth.*
    # ------------------------------------------------------------------

    def auth_whoami(self, details=None):
        authid, role, _ = self._caller(details)
        return {"authid": authid, "role": role}

    # ------------------------------------------------------------------
    # system.roster.*
    # ------------------------------------------------------------------

    def roster_register(self, name, data, visibility=None, details=None):
        authid, role, session_id = self._caller(details)
        if visibility is None:
            visibility = "*"
        if not visibility:
            raise ValueError("visibility must be a format like `['*']`")
        if not roster_allows(role, name, "o"):
            raise PermissionDenied()
        key = (session_id, name)
        rec = self.roster.get(key)
        if rec is None:
            rec = {
                "uuid": new_uid(),
                "created": time.time(),
                "name": name,
                "session_id": session_id,
                "key": "{}_{}".format(session_id, name),
                "owner": user_uid(authid),
            }
            self.roster[key] = rec
        # registering again in the same session replaces the data
        rec["data"] = data
        rec["visibility"] = visibility
        return dict(rec)

    def roster_query(self, name, details=None):
        _, role, _ = self._caller(details)
        if not roster_allows(role, name, "q"):
            raise PermissionDenied()
        hits = [
            rec
            for (_, rec_name), rec in self.roster.items()
            if rec_name == name and visible_to(rec["visibility"], role)
        ]
        hits.sort(key=lambda rec: rec["created"])
        return [rec["data"] for rec in hits]

    def roster_unregister(self, name, details=None):
        _, role, session_id = self._caller(details)
        # Like Nexus: without permission nothing is removed, and still `true`.
        if roster_allows(role, name, "o"):
            self.roster.pop((session_id, name), None)
        return True

    def on_session_leave(self, session_id, *args, **kwargs):
        for key in [k for k in self.roster if k[0] == session_id]:
            del self.roster[key]

    # ------------------------------------------------------------------
    # my.metadata.*
    # ------------------------------------------------------------------

    @staticmethod
    def _yaml_dump(value):
        return pyyaml.safe_dump(value, default_flow_style=False, allow_unicode=True)

    def metadata_set(self, key, value, yaml=False, details=None):
        authid, _, _ = self._caller(details)
        if yaml:
            value = pyyaml.safe_load(value)
        store = self.metadata.setdefault(authid, {})
        rec = store.get(key)
        if rec is None:
            rec = store[key] = {"uuid": new_uid(), "owner": user_uid(authid)}
        rec["value"] = value
        return self._yaml_dump(value) if yaml else value

    def metadata_get(self, key, yaml=False, details=None):
        authid, _, _ = self._caller(details)
        rec = self.metadata.get(authid, {}).get(key)
        if rec is None:
            return None
        return self._yaml_dump(rec["value"]) if yaml else rec["value"]

    def metadata_list(self, yaml=False, details=None):
        authid, _, _ = self._caller(details)
        result = {}
        for key, rec in self.metadata.get(authid, {}).items():
            entry = dict(rec)
            if yaml:
                entry["value"] = self._yaml_dump(rec["value"])
            result[key] = entry
        return result

    def metadata_delete(self, key, details=None):
        authid, _, _ = self._caller(details)
        self.metadata.get(authid, {}).pop(key, None)
        return None

    # ------------------------------------------------------------------
    # my.otps.* / my.otp.*
    # ------------------------------------------------------------------

    @staticmethod
    def _public(rec):
        return {k: copy.deepcopy(v) for k, v in rec.items() if not k.startswith("_")}

    def _purge_expired_otps(self):
        now = now_utc()
        for uid in [uid for uid, rec in self.otps.items() if rec["_expires"] <= now]:
            del self.otps[uid]

    @inlineCallbacks
    def otp_create(self, details=None):
        authid, _, session_id = self._caller(details)
        try:
            session_info = yield self.call("wamp.session.get", session_id)
        except ApplicationError:
            session_info = None
        plaintext = secrets.token_urlsafe(24)  # 32 characters
        expires = now_utc() + OTP_LIFETIME
        rec = {
            "uuid": new_uid(),
            "key": hash_key(authid, plaintext),
            "plaintext_key": plaintext,
            "login": authid,
            "origin": "{}@{}".format(authid, peer_address(session_info)),
            "owner": user_uid(authid),
            "permissions": [],
            "expires": expires.isoformat(),
            "_expires": expires,
        }
        self.otps[rec["uuid"]] = rec
        return self._public(rec)

    def otp_list(self, details=None):
        authid, _, _ = self._caller(details)
        self._purge_expired_otps()
        return [self._public(r) for r in self.otps.values() if r["login"] == authid]

    def otp_delete(self, uuid, details=None):
        authid, _, _ = self._caller(details)
        rec = self.otps.get(uuid)
        if rec is None:
            raise ApplicationError(ERROR_URI, "UID '{}' invalid.".format(uuid))
        # like Nexus, somebody else's record is silently left alone
        if rec["login"] == authid:
            del self.otps[uuid]
        return True

    def testing_age_otp(self, uuid, seconds, details=None):
        """Test hook: move an OTP's expiry `seconds` into the past."""
        rec = self.otps.get(uuid)
        if rec is None:
            raise ApplicationError(ERROR_URI, "UID '{}' invalid.".format(uuid))
        rec["_expires"] -= datetime.timedelta(seconds=float(seconds))
        rec["expires"] = rec["_expires"].isoformat()
        return self._public(rec)

    # ------------------------------------------------------------------
    # my.apikeys.*
    # ------------------------------------------------------------------

    def apikeys_create(self, data_rec=None, details=None):
        authid, _, _ = self._caller(details)
        data_rec = data_rec or {}
        if not isinstance(data_rec, dict):
            raise ValueError("data_rec must be a dict")
        expires = data_rec.get("expires")
        parse_expiry(expires)  # reject what could never be checked at login
        plaintext = secrets.token_urlsafe(24)
        rec = {
            "uuid": new_uid(),
            "key": hash_key(authid, plaintext),
            "plaintext_key": plaintext,
            "description": data_rec.get("description"),
            "expires": expires,
            "owner": user_uid(authid),
            "permissions": data_rec.get("permissions") or [],
            "_login": authid,
        }
        self.apikeys[rec["uuid"]] = rec
        return self._public(rec)

    def apikeys_list(self, details=None):
        authid, _, _ = self._caller(details)
        return [self._public(r) for r in self.apikeys.values() if r["_login"] == authid]

    def apikeys_delete(self, uuid, details=None):
        authid, _, _ = self._caller(details)
        rec = self.apikeys.get(uuid)
        if rec is None:
            raise ApplicationError(ERROR_URI, "UID '{}' invalid.".format(uuid))
        if rec["_login"] == authid:
            del self.apikeys[uuid]
        return True

    # ------------------------------------------------------------------
    # ad.* (a small made-up directory; Nexus reads Active Directory)
    # ------------------------------------------------------------------

    def _directory_logins(self):
        return sorted(set(self.users) | set(self.cra_users))

    def _role_of(self, login):
        if login in self.users:
            return self.users[login]["role"]
        return self.cra_users[login]

    def ad_users(self, details=None):
        self._caller(details)
        users = []
        for login in self._directory_logins():
            dn = "CN={},OU=Users,DC=id,DC=izaber,DC=com".format(login)
            users.append(
                {
                    "attributes": {
                        "dn": dn,
                        "sAMAccountName": login,
                        "cn": login,
                        "mail": "{}@izaber.test".format(login),
                        "memberOf": ["CN={},OU=Groups,DC=id,DC=izaber,DC=com".format(self._role_of(login))],
                    },
                    "db": dn,
                }
            )
        return users

    def ad_groups(self, details=None):
        self._caller(details)
        groups = []
        for role in ("public", "frontend", "backend", "trust"):
            members = [
                "CN={},OU=Users,DC=id,DC=izaber,DC=com".format(login)
                for login in self._directory_logins()
                if self._role_of(login) == role
            ]
            groups.append(
                {
                    "dn": "CN={},OU=Groups,DC=id,DC=izaber,DC=com".format(role),
                    "cn": role,
                    "member": members,
                }
            )
        return groups
