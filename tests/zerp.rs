//! ZERP through Nexus, against the test router's ZERP-like backend
//! (`tests/router/zerp_component.py`, contract in `tests/router/ZERP.md`), with Python's
//! `izaber-wamp-zerp` from PyPI as the oracle: the Rust twins of its documentation's
//! examples must print what the Python scripts print and send the backend the same calls.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use izaber_wamp::protocol::{Serializer, Value};
use izaber_wamp::zerp::command;
use izaber_wamp::{Client, Error, Zerp, call, domain};
use serde::Deserialize;
use serde_json::json;
use support::{Router, User, example, run_in_home};

/// The backend's store and call log are the router's: one test at a time uses ZERP.
static STORE: Mutex<()> = Mutex::new(());

const SANDBOX: &str = "com.izaber.wamp.zerp:sandbox:";

fn connect(router: &Router, url: &str, user: &User) -> Client {
    router
        .client(url, user)
        .serializer(Serializer::Cbor)
        .connect()
        .unwrap()
}

/// The backend's test-only procedures, called as the trusted user.
struct Fixture {
    client: Client,
    procedures: Value,
}

impl Fixture {
    fn new(router: &Router) -> Fixture {
        Fixture {
            client: connect(router, &router.ws_url, router.trust()),
            procedures: Value::from(router.info["procedures"].clone()),
        }
    }

    fn procedure(&self, name: &str) -> String {
        self.procedures[name].as_str().unwrap().to_owned()
    }

    /// The seed data back, the call log emptied.
    fn reset(&self) {
        self.client.call(&self.procedure("zerp_reset"), ()).unwrap();
    }

    /// The calls the backend received since the last look: `(procedure, args, kwargs)`.
    fn calls(&self) -> Vec<(String, Value, Value)> {
        let log = self
            .client
            .call_kw(&self.procedure("zerp_calls"), (), json!({"clear": true}))
            .unwrap();
        log.iter()
            .map(|entry| {
                (
                    entry["procedure"].as_str().unwrap().to_owned(),
                    entry["args"].clone(),
                    entry["kwargs"].clone(),
                )
            })
            .collect()
    }

    fn snapshot(&self) -> Value {
        self.client
            .call(&self.procedure("zerp_snapshot"), ("sandbox",))
            .unwrap()
    }
}

// ---- the documentation's examples, in Python and in Rust ----------------------------------

/// izaber.yaml for `user` on the shared router, with `zerp_section` (the `zerp:` key under
/// `wamp:`, indented, or nothing).
fn izaber_yaml(router: &Router, user: &User, zerp_section: &str) -> String {
    format!(
        "default:\n  wamp:\n    connection:\n      url: '{}'\n      username: '{}'\n      password: '{}'\n      timeout: 30\n{zerp_section}",
        router.ws_url, user.username, user.password
    )
}

/// A directory with an izaber.yaml for `user` on the sandbox database; the scripts run there
/// with it as their HOME.
fn script_dir(router: &Router, user: &User, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("izaber-zerp-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = izaber_yaml(router, user, "    zerp:\n      database: 'sandbox'\n");
    std::fs::write(dir.join("izaber.yaml"), yaml).unwrap();
    dir
}

fn run_in(dir: &Path, command: Command) -> String {
    run_in_home(dir, command, &[0]).1
}

/// What a hello sends that cannot be the same from two programs: the script's path, the
/// host's address as each finds it, and the library's version in the description.
fn comparable(calls: Vec<(String, Value, Value)>) -> Vec<(String, Value, Value)> {
    calls
        .into_iter()
        .map(|(procedure, args, mut kwargs)| {
            if procedure.ends_with(":res.users:object.execute.hello") {
                for key in ["ipaddress", "hostname", "description"] {
                    assert!(kwargs.get(key).is_some(), "hello sends {key}: {kwargs}");
                    kwargs[key] = Value::Null;
                }
                return (procedure, Value::Null, kwargs);
            }
            (procedure, args, kwargs)
        })
        .collect()
}

/// Runs the Python example and its Rust twin from the same fresh store; both must print
/// the same and send the same calls. Returns what they printed.
fn twins(router: &Router, fixture: &Fixture, name: &str) -> String {
    let dir = script_dir(router, router.backend(1), name);
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/porting/zerp")
        .join(format!("{name}.py"));
    fixture.reset();
    let python_out = run_in(&dir, {
        let mut command = Command::new(router.python());
        command.arg(&script);
        command
    });
    let python_calls = fixture.calls();
    let python_store = fixture.snapshot();
    fixture.reset();
    let rust_out = run_in(&dir, Command::new(example(name)));
    let rust_calls = fixture.calls();
    let rust_store = fixture.snapshot();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        rust_out, python_out,
        "{name}: the Rust twin prints otherwise"
    );
    assert!(!python_calls.is_empty(), "{name}: Python sent nothing");
    assert_eq!(
        comparable(rust_calls),
        comparable(python_calls),
        "{name}: the Rust twin sends otherwise"
    );
    // What each left in the store is the same too (the hellos' own details aside).
    let without_hellos = |mut store: Value| {
        store["hellos"] = Value::Null;
        store
    };
    assert_eq!(
        without_hellos(rust_store),
        without_hellos(python_store),
        "{name}"
    );
    rust_out
}

#[test]
fn the_documentation_examples_print_and_send_the_same_as_python() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let _log = router.log_on_failure();
    let fixture = Fixture::new(router);

    assert_eq!(twins(router, &fixture, "zerp_init"), "True\n");
    assert_eq!(twins(router, &fixture, "zerp_get_model"), "char Name\n");
    assert_eq!(twins(router, &fixture, "zerp_search"), "[2]\n");
    assert_eq!(
        twins(router, &fixture, "zerp_read"),
        "2 Acme Robotics 10 sales@acme.test\n"
    );
    assert_eq!(
        twins(router, &fixture, "zerp_write"),
        "True\n2 some_new_string 42 ACME 12.03\n3 Jane Doe 0 A 0.0\n4 John Smith 1 B 0.0\n"
    );
    assert_eq!(
        twins(router, &fixture, "zerp_create"),
        "8\nsome_new_string [9, 10]\nA 0 [8, 'some_new_string']\nB 1 [8, 'some_new_string']\n"
    );
    assert_eq!(
        twins(router, &fixture, "zerp_many2many"),
        "[3, 2, 4]\n[1, 3, 4]\n"
    );
    let one2many = twins(router, &fixture, "zerp_one2many");
    assert!(one2many.starts_with("SO001 "), "{one2many}");
    assert!(one2many.contains("Cable 3.0 106.5\n"), "{one2many}");
    assert!(one2many.contains("Calibration 1.0 250.0\n"), "{one2many}");
}

#[test]
fn generated_types_read_whole_and_partial_records() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let fixture = Fixture::new(router);
    fixture.reset();
    let dir = script_dir(router, router.backend(1), "zerp_typed");
    let out = run_in(&dir, Command::new(example("zerp_typed")));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        out,
        "X-LSQ150B: 1835.00 (12 in stock, Motion)\n\
         X-LSQ300B: 2195.00 (4 in stock, Motion)\n\
         X-MCB2: 1195.00 (30 in stock, Motion)\n\
         SO002 for Initech Distribution: 1 lines, note Some(\"Rush\"), customer reference None\n"
    );
}

// ---- the Rust API against the backend -----------------------------------------------------

#[derive(Debug, Deserialize, PartialEq)]
struct Product {
    id: u64,
    name: String,
    #[serde(default, deserialize_with = "izaber_wamp::zerp::falsy")]
    default_code: Option<String>,
    #[serde(default, deserialize_with = "izaber_wamp::zerp::falsy")]
    categ_id: Option<(u64, String)>,
    #[serde(default, deserialize_with = "izaber_wamp::zerp::falsy")]
    description: Option<String>,
}

#[test]
fn each_shorthand_sends_what_python_sends() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let _log = router.log_on_failure();
    let fixture = Fixture::new(router);
    fixture.reset();
    let zerp = Zerp::with_client(
        connect(router, &router.tcp_url, router.backend(1)),
        "sandbox",
    );
    let o = zerp.get("sale.order").unwrap();
    o.schema().unwrap();
    assert_eq!(
        call!(o, "search", domain![("state", "=", "draft")], limit = 5).unwrap(),
        Value::from(json!([1]))
    );
    let fetched = o
        .search_fetch(domain![("state", "!=", "cancel")], &["name"])
        .unwrap();
    assert_eq!(fetched.len(), 2);
    let one = o
        .search_fetch_one(domain![("partner_id", "=", 7)], &["name", "partner_id"])
        .unwrap();
    assert_eq!(
        one,
        Value::from(json!({"id": 2, "name": "SO002", "partner_id": [7, "Initech Distribution"]}))
    );
    let read = o.read([1, 2], &["name", "amount_total"]).unwrap();
    assert_eq!(read[0]["amount_total"], 4865.0);
    o.fetch([1], &["state"]).unwrap();
    assert_eq!(
        o.fetch_one(1, &["partner_id"]).unwrap(),
        Value::from(json!({"id": 1, "partner_id": [2, "Acme Robotics"]}))
    );
    let wrote = o
        .write(
            [1],
            json!({"note": "hi", "order_line": [command::update(2, json!({"price_unit": 1000.0})), command::delete(1)]}),
        )
        .unwrap();
    assert_eq!(wrote, true);
    let created = o
        .create(json!({"partner_id": 5, "order_line": [command::create(json!({"name": "Cable", "product_id": 6}))]}))
        .unwrap();
    assert_eq!(created, 4);
    assert_eq!(o.unlink([4]).unwrap(), true);
    assert_eq!(o.exec_workflow("order_confirm", 1).unwrap(), true);
    assert_eq!(
        o.call("name_get", ([1],)).unwrap(),
        Value::from(json!([[1, "SO001"]]))
    );
    zerp.schema("res.partner").unwrap();

    // What izaber-wamp-zerp sent for the same lines (tests/router/ZERP.md, "Captured calls").
    let sale = format!("{SANDBOX}sale.order:");
    let expected: Vec<(String, Value, Value)> = [
        ("object.execute.fields_get", json!([]), json!({})),
        ("object.execute.fields_get", json!([]), json!({})),
        (
            "object.execute.search",
            json!([[["state", "=", "draft"]]]),
            json!({"limit": 5}),
        ),
        (
            "object.execute.zerp_search_read",
            json!([[["state", "!=", "cancel"]], ["name"]]),
            json!({}),
        ),
        (
            "object.execute.zerp_search_read_one",
            json!([[["partner_id", "=", 7]], ["name", "partner_id"]]),
            json!({}),
        ),
        (
            "object.execute.read",
            json!([[1, 2], ["name", "amount_total"]]),
            json!({}),
        ),
        ("object.execute.read", json!([[1], ["state"]]), json!({})),
        ("object.execute.read", json!([1, ["partner_id"]]), json!({})),
        (
            "object.execute.write",
            json!([[1], {"note": "hi", "order_line": [[1, 2, {"price_unit": 1000.0}], [2, 1]]}]),
            json!({}),
        ),
        (
            "object.execute.create",
            json!([{"partner_id": 5, "order_line": [[0, 0, {"name": "Cable", "product_id": 6}]]}]),
            json!({}),
        ),
        ("object.execute.unlink", json!([[4]]), json!({})),
        (
            "object.exec_workflow",
            json!(["order_confirm", 1]),
            json!({}),
        ),
        ("object.execute.name_get", json!([[1]]), json!({})),
    ]
    .into_iter()
    .map(|(method, args, kwargs)| {
        (
            format!("{sale}{method}"),
            Value::from(args),
            Value::from(kwargs),
        )
    })
    .chain([(
        format!("{SANDBOX}res.partner:object.execute.fields_get"),
        Value::from(json!([])),
        Value::from(json!({})),
    )])
    .collect();
    assert_eq!(fixture.calls(), expected);
}

#[test]
fn typed_records_read_openerps_false_as_none() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let fixture = Fixture::new(router);
    fixture.reset();
    let zerp = Zerp::with_client(
        connect(router, &router.ws_url, router.backend(1)),
        "sandbox",
    );
    let products = zerp.get("product.product").unwrap();
    let stages: Vec<Product> = products
        .search_fetch_as(
            domain![("default_code", "like", "X-LSQ")],
            &["name", "default_code", "categ_id", "description"],
        )
        .unwrap();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert_eq!(stages[0].default_code.as_deref(), Some("X-LSQ150B"));
    assert_eq!(stages[0].categ_id, Some((3, "Motion".to_owned())));
    assert!(stages[0].description.is_some());
    // Product 2 has no description: ZERP answers false.
    assert_eq!(stages[1].description, None);
    let one: Option<Product> = products
        .search_fetch_one_as(domain![("default_code", "=", "NO-SUCH")], &["name"])
        .unwrap();
    assert_eq!(one, None);
    let cable: Product = products.fetch_one_as(6, &["name"]).unwrap();
    assert_eq!((cable.id, cable.name.as_str()), (6, "Cable X-DC06"));
    let ids = products
        .search(domain![
            "|",
            ("type", "=", "service"),
            ("list_price", "<", 100)
        ])
        .unwrap();
    assert_eq!(
        ids,
        [5, 6],
        "in the default order, by default_code: CAL-SVC, X-DC06"
    );
}

#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let fixture = Fixture::new(router);
    fixture.reset();
    let before = fixture.snapshot();
    let client = connect(router, &router.ws_url, router.backend(1));
    let zerp = Zerp::with_client(client.clone(), "sandbox");

    // An unknown model: ZERP's error, whose URI is the procedure called (colons and all).
    let error = zerp.get("no.such.model").unwrap_err();
    assert_eq!(
        error.wamp_uri(),
        Some("com.izaber.wamp.zerp:sandbox:no.such.model:object.execute.fields_get")
    );
    assert!(
        error
            .message()
            .starts_with("Object Error: Object no.such.model doesn't exist"),
        "{error}"
    );

    // A malformed domain never leaves the client.
    let products = zerp.get("product.product").unwrap();
    fixture.calls();
    let error = products.search(domain![("name", "like")]).unwrap_err();
    assert!(matches!(error, Error::Value(_)), "{error:?}");
    assert!(error.to_string().contains("domain term 1"), "{error}");
    assert!(fixture.calls().is_empty(), "nothing was sent");

    // An unknown field, a wrong type, an unknown id: ZERP refuses, the store is unchanged.
    let error = products
        .write([1], json!({"no_such_field": 1}))
        .unwrap_err();
    assert!(
        error.message().contains("Invalid field 'no_such_field'"),
        "{error}"
    );
    let error = products
        .write([1], json!({"list_price": "cheap"}))
        .unwrap_err();
    assert!(
        error.message().starts_with("ValidateError: Wrong value"),
        "{error}"
    );
    let error = products.unlink([999]).unwrap_err();
    assert!(error.message().contains("Missing ids"), "{error}");
    let error = products
        .create(json!({"name": "x", "categ_id": 1, "type": "product", "child": [command::link(1)]}))
        .unwrap_err();
    assert!(error.message().contains("Invalid field 'child'"), "{error}");
    assert_eq!(
        fixture.snapshot(),
        before,
        "a refused call changed the store"
    );

    // A database Nexus does not announce: a configuration error naming those it does.
    let nowhere = Zerp::with_client(client, "nosuch");
    let error = nowhere.get("product.product").unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    let text = format!("{error:#}");
    assert!(
        text.contains("'nosuch'") && text.contains("sandbox, testing"),
        "{text}"
    );
}

#[test]
fn the_databases_are_those_of_the_roster_and_frontends_get_the_sandbox_only() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let frontend = connect(router, &router.ws_url, router.frontend());
    let sandbox = Zerp::with_client(frontend.clone(), "sandbox");
    assert_eq!(sandbox.databases().unwrap(), ["sandbox", "testing"]);
    let partners = sandbox.get("res.partner").unwrap();
    assert_eq!(partners.search(domain![("ref", "=", "ACME")]).unwrap(), [2]);
    let testing = Zerp::with_client(frontend, "testing");
    let error = testing.get("res.partner").unwrap_err();
    assert_eq!(
        error.wamp_uri(),
        Some("wamp.error.not_authorized"),
        "{error}"
    );
}

#[test]
fn hello_says_who_from_where_with_the_connections_own_address() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let fixture = Fixture::new(router);
    fixture.reset();
    let client = connect(router, &router.tcp_url, router.backend(2));
    assert_eq!(client.local_ip(), Some("127.0.0.1".parse().unwrap()));
    let zerp = Zerp::with_client(client, "sandbox");
    let answer = zerp
        .hello(
            "audit.rs",
            json!({"author": "Me", "version": "1.0", "description": "d"}),
        )
        .unwrap();
    assert_eq!(answer, true);
    let calls = fixture.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].0.ends_with("res.users:object.execute.fields_get"));
    let (procedure, args, kwargs) = &calls[1];
    assert_eq!(
        procedure,
        &format!("{SANDBOX}res.users:object.execute.hello")
    );
    assert_eq!(args, &Value::from(json!(["audit.rs"])));
    assert_eq!(kwargs["ipaddress"], "127.0.0.1");
    assert_eq!(kwargs["author"], "Me");
    assert_eq!(kwargs["version"], "1.0");
    let description = format!(
        "\"izaber.wamp.zerp rust-{} (backend-2) d\"",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(kwargs["description"], description.as_str());
    assert!(
        kwargs["hostname"].as_str().is_some_and(|h| !h.is_empty()),
        "{kwargs}"
    );

    // Over a unix socket there is no IP address to tell: None, as Python sends when it
    // finds none.
    let unix = connect(router, &router.unix_url, router.backend(2));
    assert_eq!(unix.local_ip(), None);
}

#[test]
fn a_report_comes_back_decoded() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let zerp = Zerp::with_client(
        connect(router, &router.ws_url, router.backend(1)),
        "sandbox",
    );
    let orders = zerp.get("sale.order").unwrap();
    let report = orders.report_fetch_one(1, ()).unwrap();
    assert_eq!(report["format"], "pdf");
    let Value::Bytes(pdf) = &report["result"] else {
        panic!("{report}")
    };
    let text = String::from_utf8_lossy(pdf);
    assert!(
        text.starts_with("%PDF-1.4\n% izaber-wamp test report sale.order [1]"),
        "{text}"
    );
}

#[test]
fn the_global_zerp_takes_its_database_from_izaber_yaml() {
    let _turn = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let router = Router::shared();
    let user = router.backend(3);
    let yaml = |zerp_section: &str| izaber_yaml(router, user, zerp_section);
    let init = |text: String| {
        izaber_wamp::initialize_with(izaber_wamp::InitOptions::new().yaml(text).force(true))
    };
    // No database configured: a configuration error that says which key to set.
    init(yaml("")).unwrap();
    let error = izaber_wamp::zerp.get("product.product").unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(
        format!("{error:#}").contains("wamp.zerp.database"),
        "{error:#}"
    );

    // The testing database, which alone has product 7.
    init(yaml("    zerp:\n      database: 'testing'\n")).unwrap();
    assert_eq!(izaber_wamp::zerp.database().unwrap(), "testing");
    let products = izaber_wamp::zerp.get("product.product").unwrap();
    assert!(products.search(domain![]).unwrap().contains(&7));
    // Python's zerp.configure(database=...) switches it.
    izaber_wamp::zerp.configure("sandbox");
    let products = izaber_wamp::zerp.get("product.product").unwrap();
    assert!(!products.search(domain![]).unwrap().contains(&7));
    izaber_wamp::wamp.close();
}
