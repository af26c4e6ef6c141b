//! ZERP, Zaber's ERP, through Nexus: the Rust twin of Python's `izaber-wamp-zerp`
//! (`from izaber.wamp.zerp import zerp`).
//!
//! ZERP is an OpenERP server whose models Nexus publishes as procedures named
//! `zerp:<database>:<model>:<method>` under the URI base, for example
//! `com.izaber.wamp.zerp:sandbox:product.product:object.execute.read`. The global [`zerp`]
//! calls them through [`wamp`], with the database that izaber.yaml names:
//!
//! ```yaml
//! default:
//!   wamp:
//!     connection:
//!       url: 'wss://nexus.izaber.com/ws'
//!       username: 'zaber'
//!       password: 'low_security_password'
//!     zerp:
//!       database: 'sandbox'
//! ```
//!
//! ```no_run
//! use izaber_wamp::{domain, initialize, zerp};
//! # fn main() -> Result<(), izaber_wamp::Error> {
//! initialize()?;
//! // Python: product_obj = zerp.get('product.product')
//! let product_obj = zerp.get("product.product")?;
//! // Python: ids = product_obj.search([('default_code', 'like', 'X-LSM')])
//! let ids = product_obj.search(domain![("default_code", "like", "X-LSM")])?;
//! // Python: for product in product_obj.read(ids, ['name', 'default_code']):
//! for product in product_obj.read(&ids, &["name", "default_code"])? {
//!     println!("{}: {}", product["default_code"], product["name"]);
//! }
//! # Ok(()) }
//! ```
//!
//! A model's shorthand methods ([`Model::search`], [`Model::read`], [`Model::write`], ...)
//! are Python's; any other method name goes to `object.execute.<name>`, as Python's
//! `__getattr__` sends it: `model.search_count(domain)` is
//! `call!(model, "search_count", domain)?` (see [`Model::call_kw`]).

mod domain;
mod falsy;
mod model;

use parking_lot::RwLock;
use serde::Serialize;

use crate::protocol::{Dict, Value, to_value};
use crate::{Client, Error, wamp};

pub use domain::{Domain, command};
pub use falsy::falsy;
pub use model::{Model, method_for};

/// The roster where ZERP servers announce the databases they serve.
pub const DATABASES_ROSTER: &str = "roster.zerp.databases";

/// The key of izaber.yaml that names the database.
const DATABASE_KEY: &str = "wamp.zerp.database";

/// The version `hello` reports, in the place where Python reports its package's.
const HELLO_VERSION: &str = concat!("rust-", env!("CARGO_PKG_VERSION"));

/// What ZERP is reached through: the global `wamp`, or a client of the program's own.
enum Connection {
    Global,
    Client(Client),
}

/// ZERP through Nexus: Python's `ZERP` controller. Use the global [`zerp`], configured by
/// [`initialize`](crate::initialize) from izaber.yaml, or [`Zerp::with_client`] for a
/// client of your own.
pub struct Zerp {
    connection: Connection,
    /// Set by [`Zerp::configure`]; otherwise `wamp.zerp.database` of the configuration.
    database: RwLock<Option<String>>,
}

/// The global ZERP connection, Python's `from izaber.wamp.zerp import zerp`. It calls
/// through the global [`wamp`], with the database of `wamp.zerp.database` in izaber.yaml
/// (or the one given to [`Zerp::configure`]).
#[allow(non_upper_case_globals)]
pub static zerp: Zerp = Zerp {
    connection: Connection::Global,
    database: RwLock::new(None),
};

impl Zerp {
    /// ZERP through `client` (with its URI base, `com.izaber.wamp` when made from
    /// izaber.yaml), on `database`: for a second connection, another user, or a test.
    pub fn with_client(client: Client, database: impl Into<String>) -> Zerp {
        Zerp {
            connection: Connection::Client(client),
            database: RwLock::new(Some(database.into())),
        }
    }

    /// Uses `database` from now on: Python's `zerp.configure(database=...)`.
    pub fn configure(&self, database: impl Into<String>) {
        *self.database.write() = Some(database.into());
    }

    /// The database calls go to: the one given to [`configure`](Self::configure), else
    /// `wamp.zerp.database` of the configuration [`initialize`](crate::initialize) loaded.
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before `initialize` when none was configured;
    /// [`Error::Config`] when izaber.yaml has no `wamp.zerp.database` (Python then uses the
    /// placeholder `databasename`, whose calls all fail).
    pub fn database(&self) -> Result<String, Error> {
        if let Some(database) = self.database.read().clone() {
            return Ok(database);
        }
        let config = crate::config()?;
        match config.get_str(DATABASE_KEY)? {
            Some(database) if !database.is_empty() => Ok(database.to_owned()),
            _ => Err(Error::Config(crate::config::ConfigError::MissingKey {
                key: DATABASE_KEY.to_owned(),
                detail: "no ZERP database is configured: set wamp.zerp.database in \
                         izaber.yaml (e.g. 'sandbox'), or call zerp.configure(..)"
                    .to_owned(),
                environment: config.environment().to_owned(),
            })),
        }
    }

    fn client(&self) -> Result<Client, Error> {
        match &self.connection {
            Connection::Global => wamp.client(),
            Connection::Client(client) => Ok(client.clone()),
        }
    }

    /// The procedure for `uri` (`<model>:<service>`, e.g. `sale.order:report.render_report`)
    /// on the configured database, relative to the URI base: `zerp:<database>:<uri>`.
    ///
    /// # Errors
    ///
    /// As [`database`](Self::database).
    pub fn procedure(&self, uri: &str) -> Result<String, Error> {
        Ok(format!("zerp:{}:{uri}", self.database()?))
    }

    /// Calls `zerp:<database>:<uri>` with positional `args`: Python's `zerp.call(uri, *args)`.
    ///
    /// ```no_run
    /// # use izaber_wamp::zerp;
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// // Python: zerp.call('product.product:object.execute.search', [('sale_ok', '=', True)])
    /// let ids = zerp.call(
    ///     "product.product:object.execute.search",
    ///     (izaber_wamp::domain![("sale_ok", "=", true)],),
    /// )?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`database`](Self::database), then as [`Client::call`]; a database that ZERP does
    /// not serve is told as such (see [`Zerp::call_kw`]).
    pub fn call(&self, uri: &str, args: impl Serialize) -> Result<Value, Error> {
        self.call_kw(uri, args, Dict::new())
    }

    /// Calls `zerp:<database>:<uri>` with positional and keyword arguments, as
    /// [`call!`](crate::call) does with `zerp`: `call!(zerp, uri, a, b, key = value)`.
    ///
    /// # Errors
    ///
    /// As [`database`](Self::database), then as [`Client::call_kw`]. When the router
    /// answers `wamp.error.no_such_procedure` and the configured database is not among those
    /// ZERP announces ([`databases`](Self::databases)), the error is [`Error::Config`]
    /// naming the database and those announced, rather than the missing procedure.
    pub fn call_kw(
        &self,
        uri: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
    ) -> Result<Value, Error> {
        let procedure = self.procedure(uri)?;
        let client = self.client()?;
        let answer = client.call_kw(&procedure, args, kwargs);
        match answer {
            Err(error) if error.wamp_uri() == Some("wamp.error.no_such_procedure") => {
                Err(self.unserved_database(&client).unwrap_or(error))
            }
            other => other,
        }
    }

    /// The error to give instead of `no_such_procedure` when the database is not served;
    /// `None` when it is (the model or method is what is missing), or when the roster
    /// cannot be read.
    fn unserved_database(&self, client: &Client) -> Option<Error> {
        let database = self.database().ok()?;
        let served = databases_of(client).ok()?;
        if served.contains(&database) {
            return None;
        }
        let listed = if served.is_empty() {
            "none (no ZERP server is connected to this Nexus)".to_owned()
        } else {
            served.join(", ")
        };
        let environment = crate::config()
            .map(|config| config.environment().to_owned())
            .unwrap_or_default();
        Some(Error::Config(crate::config::ConfigError::InvalidValue {
            key: DATABASE_KEY.to_owned(),
            message: format!(
                "ZERP serves no database '{database}'; the databases announced in \
                 {DATABASES_ROSTER} are: {listed}{}",
                if environment.is_empty() {
                    String::new()
                } else {
                    format!(" (environment '{environment}')")
                }
            ),
        }))
    }

    /// The databases ZERP servers announce in the roster [`DATABASES_ROSTER`], sorted, each
    /// once.
    ///
    /// # Errors
    ///
    /// As [`Client::roster_query`].
    pub fn databases(&self) -> Result<Vec<String>, Error> {
        databases_of(&self.client()?)
    }

    /// A model, with its fields read from ZERP (`fields_get`), as Python's
    /// `zerp.get_model('product.product')` does: a model that does not exist fails here.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call): usually [`Error::Wamp`] for a model ZERP does not know.
    pub fn get_model(&self, model: &str) -> Result<Model<'_>, Error> {
        let fields = self.schema(model)?;
        Ok(Model::new(self, model, fields))
    }

    /// The same as [`get_model`](Self::get_model): Python's alias `zerp.get`.
    ///
    /// # Errors
    ///
    /// As [`get_model`](Self::get_model).
    pub fn get(&self, model: &str) -> Result<Model<'_>, Error> {
        self.get_model(model)
    }

    /// A model's fields as ZERP describes them (`object.execute.fields_get`): a dict of field
    /// name to its type, label and relation.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub fn schema(&self, model: &str) -> Result<Value, Error> {
        self.call(&format!("{model}:object.execute.fields_get"), ())
    }

    /// Introduces the script to ZERP so that its log says who runs what: Python's
    /// `zerp.hello(__file__, author=..., version=..., description=...)`. `details` are the
    /// keyword arguments (a struct, a map or `json!({...})`); each is logged by ZERP as
    /// `key: value`. As Python does, this adds `hostname`, `ipaddress` (the address of this
    /// end of the connection to Nexus, read from its own socket: nothing else is opened) and
    /// replaces `description` with `"izaber.wamp.zerp <version> (<authid>) <description>"`,
    /// quotes included, where the version is this crate's (`rust-0.2.0`) and the authid the
    /// one Nexus logged us in as (Python puts the configured user name there, in whatever
    /// case it was written). Like Python, it reads `res.users`'s fields first.
    ///
    /// ```no_run
    /// # use izaber_wamp::zerp;
    /// use serde_json::json;
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// // Python: zerp.hello(__file__, author="My Name", version="1.0", description="Just an example")
    /// zerp.hello(file!(), json!({"author": "My Name", "version": "1.0", "description": "Just an example"}))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `details` is not a map; otherwise as
    /// [`call`](Self::call) of `res.users`'s `hello`.
    pub fn hello(&self, file: &str, details: impl Serialize) -> Result<Value, Error> {
        let mut kwargs = match to_value(&details)? {
            Value::Dict(kwargs) => kwargs,
            Value::Null => Dict::new(),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "hello's details must be a map of keyword arguments, not {other}"
                )));
            }
        };
        // As Python does (it gets the model first), so that ZERP's log reads the same.
        self.get_model("res.users")?;
        let client = self.client()?;
        let description = kwargs
            .get("description")
            .map(|value| match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let authid = client.authid().unwrap_or_else(|| "None".to_owned());
        let hostname = hostname();
        if hostname.is_none() {
            log::error!("hello: unable to determine the host name");
        }
        let ipaddress = client.local_ip();
        if ipaddress.is_none() {
            log::error!("hello: unable to determine the IP address (not a TCP connection?)");
        }
        kwargs.insert("hostname".into(), hostname.map_or(Value::Null, Value::from));
        kwargs.insert(
            "ipaddress".into(),
            ipaddress.map_or(Value::Null, |ip| Value::from(ip.to_string())),
        );
        kwargs.insert(
            "description".into(),
            Value::from(format!(
                "\"izaber.wamp.zerp {HELLO_VERSION} ({authid}) {description}\""
            )),
        );
        self.call_kw("res.users:object.execute.hello", (file,), kwargs)
    }
}

/// The databases announced in [`DATABASES_ROSTER`]. An entry's data is read as Nexus' roster
/// documentation shows it, `{"databases": [{"database": "sandbox", ...}, ...]}`, and also as
/// a dict naming one database under `database` (or `name`), a bare name, or a list of these.
fn databases_of(client: &Client) -> Result<Vec<String>, Error> {
    fn collect(data: &Value, into: &mut Vec<String>) {
        match data {
            Value::String(name) => into.push(name.clone()),
            Value::Dict(entry) => {
                if let Some(listed) = entry.get("databases") {
                    collect(listed, into);
                } else if let Some(name) = entry
                    .get("database")
                    .or_else(|| entry.get("name"))
                    .and_then(Value::as_str)
                {
                    into.push(name.to_owned());
                }
            }
            Value::List(items) => items.iter().for_each(|item| collect(item, into)),
            _ => {}
        }
    }
    let mut databases = Vec::new();
    collect(&client.roster_query(DATABASES_ROSTER)?, &mut databases);
    databases.sort();
    databases.dedup();
    Ok(databases)
}

/// This machine's name, as Python's `socket.gethostname()`.
fn hostname() -> Option<String> {
    #[cfg(unix)]
    {
        let mut buffer = [0u8; 256];
        // SAFETY: gethostname writes at most `buffer.len()` bytes into the buffer, which is
        // live and writable for that length; a failure is its return value.
        let done = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
        if done != 0 {
            return None;
        }
        let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
        String::from_utf8(buffer[..end].to_vec())
            .ok()
            .filter(|name| !name.is_empty())
    }
    #[cfg(windows)]
    {
        std::env::var("COMPUTERNAME")
            .ok()
            .filter(|name| !name.is_empty())
    }
    #[cfg(not(any(unix, windows)))]
    {
        None
    }
}

impl std::fmt::Debug for Zerp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zerp")
            .field(
                "connection",
                &match self.connection {
                    Connection::Global => "wamp",
                    Connection::Client(_) => "its own client",
                },
            )
            .field("database", &*self.database.read())
            .finish()
    }
}
