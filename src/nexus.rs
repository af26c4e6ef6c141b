//! Helpers for the procedures Nexus (Zaber's router) provides, with the Python library's names.
//!
//! They call URIs relative to the client's URI base (`com.izaber.wamp` for clients made from
//! izaber.yaml), exactly as Python's `WAMPClientTicket` does.

use serde::Serialize;

use crate::protocol::Value;
use crate::{Client, Error};

impl Client {
    /// `auth.whoami`: who the router thinks we are, e.g. `{"authid": "zaber", "role": "frontend"}`.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call).
    pub fn whoami(&self) -> Result<Value, Error> {
        self.call("auth.whoami", ())
    }

    /// `ad.users`: the directory's users.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call); [`Error::Wamp`] `wamp.error.not_authorized` for roles without
    /// access to the directory.
    pub fn ad_users(&self) -> Result<Value, Error> {
        self.call("ad.users", ())
    }

    /// `ad.groups`: the directory's groups.
    ///
    /// # Errors
    ///
    /// As [`ad_users`](Client::ad_users).
    pub fn ad_groups(&self) -> Result<Value, Error> {
        self.call("ad.groups", ())
    }

    /// `system.roster.register`: publishes `data` under roster `name` for as long as this
    /// session lives, visible to every role.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call); [`Error::Wamp`] `wamp.error.not_authorized` for roles that may not
    /// register in rosters.
    pub fn roster_register(&self, name: &str, data: impl Serialize) -> Result<Value, Error> {
        self.call("system.roster.register", (name, data, Value::Null))
    }

    /// `system.roster.register` visible only to the given roles.
    ///
    /// # Errors
    ///
    /// As [`roster_register`](Client::roster_register).
    pub fn roster_register_visible(
        &self,
        name: &str,
        data: impl Serialize,
        visibility: &[&str],
    ) -> Result<Value, Error> {
        self.call("system.roster.register", (name, data, visibility))
    }

    /// `system.roster.query`: the data of every live entry of roster `name` we may see.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call).
    pub fn roster_query(&self, name: &str) -> Result<Value, Error> {
        self.call("system.roster.query", (name,))
    }

    /// `system.roster.unregister`: removes our entry from roster `name`.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call).
    pub fn roster_unregister(&self, name: &str) -> Result<Value, Error> {
        self.call("system.roster.unregister", (name,))
    }

    /// `my.metadata.set`: stores a preference of the logged-in user; returns the stored value.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call).
    pub fn metadata_set(&self, key: &str, value: impl Serialize) -> Result<Value, Error> {
        self.call("my.metadata.set", (key, value, false))
    }

    /// `my.metadata.get`: a preference of the logged-in user, or `null`.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call); a missing key is not an error.
    pub fn metadata_get(&self, key: &str) -> Result<Value, Error> {
        self.call("my.metadata.get", (key,))
    }

    /// `my.metadata.list`: every preference, as `key -> {"uuid", "owner", "value"}`.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call).
    pub fn metadata_list(&self) -> Result<Value, Error> {
        self.call("my.metadata.list", ())
    }

    /// `my.metadata.delete`: removes a preference (no error when it does not exist).
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call); a missing key is not an error.
    pub fn metadata_delete(&self, key: &str) -> Result<Value, Error> {
        self.call("my.metadata.delete", (key,))
    }

    /// `my.otps.create` (or `my.otp.create` on older Nexus): a one-time password, valid for
    /// one login within 10 minutes. Its `login` and `plaintext_key` log in.
    ///
    /// # Errors
    ///
    /// As [`Client::call`](crate::Client::call); [`Error::Wamp`] `wamp.error.not_authorized` when logged in with a
    /// one-time password or an API key (they may not make credentials).
    pub fn otp_create(&self) -> Result<Value, Error> {
        self.call_renamed("my.otps.create", "my.otp.create", ())
    }

    /// `my.otps.list` (or `my.otp.list`): our one-time passwords.
    ///
    /// # Errors
    ///
    /// As [`otp_create`](Client::otp_create).
    pub fn otp_list(&self) -> Result<Value, Error> {
        self.call_renamed("my.otps.list", "my.otp.list", ())
    }

    /// `my.otps.delete` (or `my.otp.delete`): removes a one-time password by uuid.
    ///
    /// # Errors
    ///
    /// As [`otp_create`](Client::otp_create).
    pub fn otp_delete(&self, uuid: &str) -> Result<Value, Error> {
        self.call_renamed("my.otps.delete", "my.otp.delete", (uuid,))
    }

    /// `my.apikeys.create`: a new API key; `data` is e.g. `{"description": "..."}` or `()`.
    ///
    /// # Errors
    ///
    /// As [`otp_create`](Client::otp_create).
    pub fn apikeys_create(&self, data: impl Serialize) -> Result<Value, Error> {
        self.call("my.apikeys.create", (data,))
    }

    /// `my.apikeys.list`: our API keys.
    ///
    /// # Errors
    ///
    /// As [`otp_create`](Client::otp_create).
    pub fn apikeys_list(&self) -> Result<Value, Error> {
        self.call("my.apikeys.list", ())
    }

    /// `my.apikeys.delete`: removes an API key by uuid.
    ///
    /// # Errors
    ///
    /// As [`otp_create`](Client::otp_create); [`Error::Wamp`] `com.izaber.wamp.error` for
    /// an unknown uuid.
    pub fn apikeys_delete(&self, uuid: &str) -> Result<Value, Error> {
        self.call("my.apikeys.delete", (uuid,))
    }

    /// Calls `current`, falling back to `old` when the router does not know `current`: Nexus
    /// renamed the OTP procedures and both kinds of server are in use.
    fn call_renamed(&self, current: &str, old: &str, args: impl Serialize) -> Result<Value, Error> {
        match self.call(current, &args) {
            Err(e) if e.wamp_uri() == Some("wamp.error.no_such_procedure") => self.call(old, &args),
            other => other,
        }
    }
}
