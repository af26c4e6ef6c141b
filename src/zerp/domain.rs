//! OpenERP's search domains and the one2many/many2many command tuples, written in Rust the
//! way a Python script writes them.

use serde::Serialize;
use serde::ser::Error as _;

use crate::protocol::{Value, to_value};

/// A search domain: OpenERP's list of `(field, operator, value)` terms, implicitly joined by
/// AND, with the prefix operators `"&"`, `"|"` and `"!"` where a script needs them. Build
/// one with [`domain!`](crate::domain), which reads like the Python list:
///
/// ```
/// use izaber_wamp::domain;
/// // Python: [('default_code', 'like', 'X-LSM'), ('list_price', '>=', 10)]
/// let expensive_lsm = domain![("default_code", "like", "X-LSM"), ("list_price", ">=", 10)];
/// // Python: ['|', ('name', 'ilike', 'stage'), ('name', 'ilike', 'motor')]
/// let either = domain!["|", ("name", "ilike", "stage"), ("name", "ilike", "motor")];
/// // Python: [] (everything)
/// let everything = domain![];
/// # let _ = (expensive_lsm, either, everything);
/// ```
///
/// A term's value may be anything that serializes: a number, a string, a `bool`, a list for
/// `in` and `not in` (`("id", "in", [1, 2, 3])`), or `false` for an empty field
/// (`("parent_id", "=", false)`). A list of tuples of one type needs no macro:
/// `&[("state", "=", "done")]` is a domain too, wherever one is taken.
///
/// A term that is neither a 3-element `(field, operator, value)` with a string field and
/// operator nor one of the operators `"&"`, `"|"`, `"!"` is not sent: the call made with the
/// domain fails with [`Error::Value`](crate::Error::Value) naming the term, before anything
/// reaches ZERP.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Domain {
    terms: Vec<Value>,
    invalid: Option<String>,
}

impl Domain {
    /// The empty domain: every record.
    pub fn new() -> Domain {
        Domain::default()
    }

    /// Adds a term (or a prefix operator), as [`domain!`](crate::domain) does for each of its
    /// items.
    pub fn push(&mut self, term: impl Serialize) {
        let position = self.terms.len() + 1;
        let checked = to_value(&term)
            .map_err(|e| e.to_string())
            .and_then(check_term);
        match checked {
            Ok(value) => self.terms.push(value),
            Err(why) => {
                self.invalid
                    .get_or_insert_with(|| format!("domain term {position}: {why}"));
            }
        }
    }

    /// Adds a term and returns the domain, for building one in a chain.
    pub fn and(mut self, term: impl Serialize) -> Domain {
        self.push(term);
        self
    }

    /// The number of terms and operators.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// True for the empty domain (every record).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.invalid.is_none()
    }
}

/// A term as OpenERP reads it, or why it is not one. Operators are not checked against a
/// list: ZERP knows its own (`child_of`, `=like`, ...) and says so when one is wrong.
fn check_term(value: Value) -> Result<Value, String> {
    match &value {
        Value::String(operator) if matches!(operator.as_str(), "&" | "|" | "!") => Ok(value),
        Value::String(other) => Err(format!(
            "'{other}' is not a term: a term is (field, operator, value), and the only \
             operators between terms are \"&\", \"|\" and \"!\""
        )),
        Value::List(items) => match items.as_slice() {
            [Value::String(_), Value::String(_), _] => Ok(value),
            [_, _, _] => Err(format!(
                "{value} is not a term: its field and operator must be strings"
            )),
            _ => Err(format!(
                "{value} is not a term: a term has three parts, (field, operator, value)"
            )),
        },
        other => Err(format!(
            "{other} is not a term: a term is (field, operator, value)"
        )),
    }
}

impl Serialize for Domain {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.invalid {
            Some(why) => Err(S::Error::custom(why)),
            None => self.terms.serialize(serializer),
        }
    }
}

/// Builds a [`Domain`] from terms written as Python writes them: `(field, operator, value)`
/// tuples and the operators `"&"`, `"|"`, `"!"`.
///
/// ```
/// use izaber_wamp::domain;
/// use izaber_wamp::protocol::to_value;
/// let domain = domain![("qty_available", ">", 0), ("name", "ilike", "stage")];
/// assert_eq!(
///     to_value(&domain)?.to_string(),
///     r#"[["qty_available",">",0],["name","ilike","stage"]]"#
/// );
/// # Ok::<(), izaber_wamp::protocol::ValueError>(())
/// ```
#[macro_export]
macro_rules! domain {
    ($($term:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut domain = $crate::zerp::Domain::new();
        $(domain.push(&$term);)*
        domain
    }};
}

/// The command tuples that `create` and `write` take for one2many and many2many fields,
/// with the names Odoo later gave them. Python's raw tuples work as they are too: `(0, 0,
/// json!({"name": "x"}))` serializes to the same `[0, 0, {"name": "x"}]`.
///
/// ```
/// use izaber_wamp::zerp::command;
/// use serde_json::json;
/// // Python: {'line_ids': [(0, 0, {'name': 'new line'}), (4, 7), (3, 8)]}
/// let values = json!({
///     "line_ids": [command::create(json!({"name": "new line"})), command::link(7), command::unlink(8)],
/// });
/// assert_eq!(values["line_ids"][1], json!([4, 7]));
/// ```
pub mod command {
    use serde::Serialize;
    use serde::ser::Error as _;

    use crate::protocol::{Value, to_value};

    /// One command tuple. Its values are converted when it is made; values that do not
    /// serialize make the call that sends the command fail with
    /// [`Error::Value`](crate::Error::Value), before anything reaches ZERP.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Command(Result<Value, String>);

    impl Serialize for Command {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match &self.0 {
                Ok(tuple) => tuple.serialize(serializer),
                Err(why) => Err(S::Error::custom(why)),
            }
        }
    }

    fn tuple(code: u8, id: u64, values: Option<&dyn erased::Values>) -> Command {
        let mut items = vec![Value::from(code)];
        if code != 5 {
            items.push(Value::from(id));
        }
        match values.map(erased::Values::value) {
            Some(Ok(values)) => items.push(values),
            Some(Err(why)) => {
                return Command(Err(format!("command ({code}, {id}, ...): {why}")));
            }
            None => {}
        }
        Command(Ok(Value::List(items)))
    }

    /// `Serialize` is not object-safe; the commands only need the converted value.
    mod erased {
        pub trait Values {
            fn value(&self) -> Result<crate::protocol::Value, String>;
        }
        impl<T: serde::Serialize> Values for T {
            fn value(&self) -> Result<crate::protocol::Value, String> {
                super::to_value(self).map_err(|e| e.to_string())
            }
        }
    }

    /// `(0, 0, values)`: creates a record with `values` and links it.
    pub fn create(values: impl Serialize) -> Command {
        tuple(0, 0, Some(&values))
    }

    /// `(1, id, values)`: writes `values` on the linked record `id`.
    pub fn update(id: u64, values: impl Serialize) -> Command {
        tuple(1, id, Some(&values))
    }

    /// `(2, id)`: removes the link to record `id` and deletes the record.
    pub fn delete(id: u64) -> Command {
        tuple(2, id, None)
    }

    /// `(3, id)`: removes the link to record `id`; the record stays.
    pub fn unlink(id: u64) -> Command {
        tuple(3, id, None)
    }

    /// `(4, id)`: links the existing record `id`.
    pub fn link(id: u64) -> Command {
        tuple(4, id, None)
    }

    /// `(5,)`: removes every link; the records stay.
    pub fn clear() -> Command {
        tuple(5, 0, None)
    }

    /// `(6, 0, ids)`: the links become exactly `ids`.
    pub fn set(ids: &[u64]) -> Command {
        tuple(6, 0, Some(&ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_domain_is_sent_as_openerp_reads_it() {
        let domain = crate::domain![
            "|",
            ("default_code", "like", "X-LSM"),
            ("list_price", ">=", 10.5),
            ("id", "in", [1, 2]),
            ("parent_id", "=", false),
        ];
        assert_eq!(domain.len(), 5);
        assert_eq!(
            serde_json::to_value(&domain).unwrap(),
            json!([
                "|",
                ["default_code", "like", "X-LSM"],
                ["list_price", ">=", 10.5],
                ["id", "in", [1, 2]],
                ["parent_id", "=", false]
            ])
        );
        assert!(crate::domain![].is_empty());
        assert_eq!(serde_json::to_value(crate::domain![]).unwrap(), json!([]));
    }

    #[test]
    fn a_malformed_term_fails_the_domain_naming_it() {
        let domain = crate::domain![("name", "=", "x"), ("name", "like"), "or"];
        let error = to_value(&domain).unwrap_err().to_string();
        assert!(error.contains("domain term 2"), "{error}");
        assert!(error.contains("three parts"), "{error}");
        let error = to_value(&crate::domain![(1, "=", 2)])
            .unwrap_err()
            .to_string();
        assert!(error.contains("must be strings"), "{error}");
        let error = to_value(&Domain::new().and("or")).unwrap_err().to_string();
        assert!(error.contains("'or' is not a term"), "{error}");
        assert!(!Domain::new().and(7).is_empty());
    }

    #[test]
    fn commands_are_openerps_tuples() {
        let sent = |command: command::Command| serde_json::to_value(command).unwrap();
        assert_eq!(
            sent(command::create(json!({"name": "n"}))),
            json!([0, 0, {"name": "n"}])
        );
        assert_eq!(
            sent(command::update(3, json!({"a": 1}))),
            json!([1, 3, {"a": 1}])
        );
        assert_eq!(sent(command::delete(3)), json!([2, 3]));
        assert_eq!(sent(command::unlink(3)), json!([3, 3]));
        assert_eq!(sent(command::link(3)), json!([4, 3]));
        assert_eq!(sent(command::clear()), json!([5]));
        assert_eq!(sent(command::set(&[1, 2])), json!([6, 0, [1, 2]]));
        // Several kinds in one list, as a script writes them.
        let lines = vec![command::create(json!({"name": "n"})), command::link(7)];
        assert_eq!(
            serde_json::to_value(lines).unwrap(),
            json!([[0, 0, {"name": "n"}], [4, 7]])
        );
        let unsendable: std::collections::BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        let error = to_value(&command::create(unsendable))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("command (0, 0, ...): "), "{error}");
    }
}
