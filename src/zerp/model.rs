//! A ZERP model and its shorthand methods: Python's `ZERPModel`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{Dict, Value, from_value, to_value};
use crate::{Error, Zerp};

/// Python's shorthand method names and the OpenERP methods they call (its
/// `METHOD_SHORTHANDS`). Any other name is `object.execute.<name>`.
const SHORTHANDS: &[(&str, &str)] = &[
    ("schema", "object.execute.fields_get"),
    ("exec_workflow", "object.exec_workflow"),
    ("wizard_create", "wizard.create"),
    ("report", "report.report"),
    ("report_get", "report.report_get"),
    ("reports_fetch", "report.report_get"),
    ("search", "object.execute.search"),
    ("search_fetch", "object.execute.zerp_search_read"),
    ("search_fetch_one", "object.execute.zerp_search_read_one"),
    ("read", "object.execute.read"),
    ("fetch", "object.execute.read"),
    ("fetch_one", "object.execute.read"),
    ("write", "object.execute.write"),
    ("create", "object.execute.create"),
    ("unlink", "object.execute.unlink"),
];

/// The OpenERP method a model method name calls: its shorthand's, else `object.execute.`
/// and the name, as Python's `__getattr__` has it.
///
/// ```
/// use izaber_wamp::zerp::method_for;
/// assert_eq!(method_for("search_fetch"), "object.execute.zerp_search_read");
/// assert_eq!(method_for("search_count"), "object.execute.search_count");
/// ```
pub fn method_for(name: &str) -> String {
    SHORTHANDS
        .iter()
        .find(|(shorthand, _)| *shorthand == name)
        .map_or_else(
            || format!("object.execute.{name}"),
            |(_, method)| (*method).to_owned(),
        )
}

/// A ZERP model, from [`Zerp::get`]: Python's `zerp.get('product.product')`.
///
/// The shorthand methods take what Python's take and return what ZERP answers, with ids as
/// `u64` and records as [`Value`] dicts. `ids` are anything that serializes to a list of
/// ids: `&[2, 3]`, a `Vec<u64>` from [`search`](Model::search), or a record's one2many
/// field as it was read (`&order["order_line"]`); each has a typed twin (`_as`) that deserializes the
/// records into your own struct. A `fields` list names the fields to read; an empty one
/// sends none, and ZERP then reads them all, as Python's `read(ids)` does.
///
/// Any other method goes to `object.execute.<method>`, with Python's positional and keyword
/// arguments through [`call!`](crate::call):
///
/// ```no_run
/// use izaber_wamp::{call, domain, zerp};
/// # fn main() -> Result<(), izaber_wamp::Error> {
/// let product_obj = zerp.get("product.product")?;
/// // Python: product_obj.search_count([('sale_ok', '=', True)])
/// let count = call!(product_obj, "search_count", domain![("sale_ok", "=", true)])?;
/// // Python: product_obj.search([], limit=5, order='name')
/// let first = call!(product_obj, "search", domain![], limit = 5, order = "name")?;
/// # let _ = (count, first);
/// # Ok(()) }
/// ```
pub struct Model<'z> {
    zerp: &'z Zerp,
    name: String,
    fields: Value,
}

impl<'z> Model<'z> {
    pub(super) fn new(zerp: &'z Zerp, name: &str, fields: Value) -> Model<'z> {
        Model {
            zerp,
            name: name.to_owned(),
            fields,
        }
    }

    /// The model's name, e.g. `product.product`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model's fields as read when it was got (`fields_get`): Python's `model.schema_`.
    pub fn fields(&self) -> &Value {
        &self.fields
    }

    /// The procedure a method name calls, relative to the URI base:
    /// `zerp:<database>:<model>:<method>` with the shorthand resolved, e.g.
    /// `zerp:sandbox:product.product:object.execute.read` for `read`.
    ///
    /// # Errors
    ///
    /// As [`Zerp::database`].
    pub fn procedure(&self, method: &str) -> Result<String, Error> {
        self.zerp
            .procedure(&format!("{}:{}", self.name, method_for(method)))
    }

    /// Calls `method` (a shorthand, or any OpenERP method name) with positional `args`:
    /// Python's `model.<method>(*args)`.
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`].
    pub fn call(&self, method: &str, args: impl Serialize) -> Result<Value, Error> {
        self.call_kw(method, args, Dict::new())
    }

    /// Calls `method` with positional and keyword arguments: Python's
    /// `model.<method>(*args, **kwargs)`, and what [`call!`](crate::call) uses on a model.
    ///
    /// # Errors
    ///
    /// As [`Zerp::call_kw`].
    pub fn call_kw(
        &self,
        method: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
    ) -> Result<Value, Error> {
        let uri = format!("{}:{}", self.name, method_for(method));
        self.zerp.call_kw(&uri, args, kwargs)
    }

    /// Calls with `first` (a domain, ids or an id), then the fields list when it names any.
    fn call_with_fields(
        &self,
        method: &str,
        first: impl Serialize,
        fields: &[&str],
    ) -> Result<Value, Error> {
        let mut args = vec![to_value(&first)?];
        if !fields.is_empty() {
            args.push(Value::List(
                fields.iter().map(|&field| Value::from(field)).collect(),
            ));
        }
        self.call(method, args)
    }

    /// The ids of the records that match `domain` (see [`Domain`](crate::zerp::Domain)):
    /// `object.execute.search`.
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`]; [`Error::Value`] for a malformed domain (nothing is sent) or an
    /// answer that is not a list of ids.
    pub fn search(&self, domain: impl Serialize) -> Result<Vec<u64>, Error> {
        Ok(from_value(self.call("search", (domain,))?)?)
    }

    /// The records that match `domain`, with `fields` (all when empty), in one call:
    /// `object.execute.zerp_search_read`.
    ///
    /// # Errors
    ///
    /// As [`search`](Self::search).
    pub fn search_fetch(
        &self,
        domain: impl Serialize,
        fields: &[&str],
    ) -> Result<Vec<Value>, Error> {
        Ok(from_value(self.call_with_fields(
            "search_fetch",
            domain,
            fields,
        )?)?)
    }

    /// As [`search_fetch`](Self::search_fetch), each record deserialized into `T`.
    ///
    /// # Errors
    ///
    /// As [`search_fetch`](Self::search_fetch); [`Error::Value`] naming the field when a
    /// record does not fit `T`.
    pub fn search_fetch_as<T: DeserializeOwned>(
        &self,
        domain: impl Serialize,
        fields: &[&str],
    ) -> Result<Vec<T>, Error> {
        records_as(self.search_fetch(domain, fields)?)
    }

    /// The first record that matches `domain`, or [`Value::Null`] when none does (ZERP
    /// answers `false` then, which this turns into `null`):
    /// `object.execute.zerp_search_read_one`.
    ///
    /// # Errors
    ///
    /// As [`search`](Self::search).
    pub fn search_fetch_one(
        &self,
        domain: impl Serialize,
        fields: &[&str],
    ) -> Result<Value, Error> {
        let record = self.call_with_fields("search_fetch_one", domain, fields)?;
        Ok(none_as_null(record))
    }

    /// As [`search_fetch_one`](Self::search_fetch_one), deserialized into `T`; `None` when
    /// no record matches.
    ///
    /// # Errors
    ///
    /// As [`search_fetch_as`](Self::search_fetch_as).
    pub fn search_fetch_one_as<T: DeserializeOwned>(
        &self,
        domain: impl Serialize,
        fields: &[&str],
    ) -> Result<Option<T>, Error> {
        match self.search_fetch_one(domain, fields)? {
            Value::Null => Ok(None),
            record => Ok(Some(from_value(record)?)),
        }
    }

    /// The records `ids`, with `fields` (all when empty): `object.execute.read`.
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`]: [`Error::Wamp`] for an id or a field ZERP does not have.
    pub fn read(&self, ids: impl Serialize, fields: &[&str]) -> Result<Vec<Value>, Error> {
        Ok(from_value(self.call_with_fields("read", ids, fields)?)?)
    }

    /// As [`read`](Self::read), each record deserialized into `T`.
    ///
    /// # Errors
    ///
    /// As [`search_fetch_as`](Self::search_fetch_as).
    pub fn read_as<T: DeserializeOwned>(
        &self,
        ids: impl Serialize,
        fields: &[&str],
    ) -> Result<Vec<T>, Error> {
        records_as(self.read(ids, fields)?)
    }

    /// The same as [`read`](Self::read): Python's `fetch`.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub fn fetch(&self, ids: impl Serialize, fields: &[&str]) -> Result<Vec<Value>, Error> {
        self.read(ids, fields)
    }

    /// As [`fetch`](Self::fetch), each record deserialized into `T`.
    ///
    /// # Errors
    ///
    /// As [`read_as`](Self::read_as).
    pub fn fetch_as<T: DeserializeOwned>(
        &self,
        ids: impl Serialize,
        fields: &[&str],
    ) -> Result<Vec<T>, Error> {
        self.read_as(ids, fields)
    }

    /// The record `id`, with `fields` (all when empty): `object.execute.read` with one id,
    /// which ZERP answers with the record itself.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub fn fetch_one(&self, id: u64, fields: &[&str]) -> Result<Value, Error> {
        self.call_with_fields("fetch_one", id, fields)
    }

    /// As [`fetch_one`](Self::fetch_one), deserialized into `T`.
    ///
    /// # Errors
    ///
    /// As [`read_as`](Self::read_as).
    pub fn fetch_one_as<T: DeserializeOwned>(&self, id: u64, fields: &[&str]) -> Result<T, Error> {
        Ok(from_value(self.fetch_one(id, fields)?)?)
    }

    /// Writes `values` (field name to value; one2many and many2many fields take
    /// [`command`](crate::zerp::command)s) on the records `ids`: `object.execute.write`.
    /// ZERP answers `true`.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read); ZERP refuses the whole write when any value is wrong.
    pub fn write(&self, ids: impl Serialize, values: impl Serialize) -> Result<Value, Error> {
        self.call("write", (ids, values))
    }

    /// Creates a record from `values` and returns its id: `object.execute.create`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write); [`Error::Value`] when ZERP's answer is not an id.
    pub fn create(&self, values: impl Serialize) -> Result<u64, Error> {
        Ok(from_value(self.call("create", (values,))?)?)
    }

    /// Deletes the records `ids`: `object.execute.unlink`. ZERP answers `true`.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub fn unlink(&self, ids: impl Serialize) -> Result<Value, Error> {
        self.call("unlink", (ids,))
    }

    /// The model's fields, asked of ZERP again (`object.execute.fields_get`); the answer of
    /// [`Zerp::get`] is kept in [`fields`](Self::fields).
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`].
    pub fn schema(&self) -> Result<Value, Error> {
        self.call("schema", ())
    }

    /// Sends the workflow `signal` to record `id`: `object.exec_workflow`.
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`].
    pub fn exec_workflow(&self, signal: &str, id: u64) -> Result<Value, Error> {
        self.call("exec_workflow", (signal, id))
    }

    /// Starts a wizard: `wizard.create`, with Python's positional arguments as a tuple.
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`].
    pub fn wizard_create(&self, args: impl Serialize) -> Result<Value, Error> {
        self.call("wizard_create", args)
    }

    /// Asks ZERP to generate the model's report for `ids` (`report.report`); the answer is
    /// the report's id. Python's `model.report(ids)`; to get the report itself, use
    /// [`reports_fetch`](Self::reports_fetch).
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`].
    pub fn report(&self, ids: impl Serialize, context: impl Serialize) -> Result<Value, Error> {
        self.call_with_context("report.report", vec![to_value(&ids)?], context)
    }

    /// `report.report_get` on this model: Python's shorthand, kept for ports. ZERP's bridge
    /// hands the model to `report_get` in the report id's place, so ZERP refuses it; use
    /// [`reports_fetch`](Self::reports_fetch).
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`]; on ZERP, always the bridge's `TypeError`.
    pub fn report_get(&self, report_id: impl Serialize) -> Result<Value, Error> {
        self.call("report_get", (report_id,))
    }

    /// The model's report of `ids`, rendered, with its `result` decoded from base64 into
    /// bytes ([`Value::Bytes`]) beside its `format` (`pdf`): Python's `reports_fetch`, a
    /// list of one report.
    ///
    /// Python's `reports_fetch` cannot work (it asks `report.report`, then polls a
    /// `report_get` that ZERP's bridge refuses, and decodes with a function Python 3.9
    /// removed). This asks what works on ZERP instead, `report.render_report`, in one call.
    ///
    /// # Errors
    ///
    /// As [`Zerp::call`]; [`Error::Value`] when the report is not ready (`state` false) or
    /// its `result` is not base64.
    pub fn reports_fetch(
        &self,
        ids: impl Serialize,
        context: impl Serialize,
    ) -> Result<Vec<Value>, Error> {
        let mut report =
            self.call_with_context("report.render_report", vec![to_value(&ids)?], context)?;
        let not_a_report = |why: String| {
            Error::Value(crate::protocol::ValueError::new(format!(
                "the report of {}: {why}",
                self.name
            )))
        };
        if !report["state"].is_truthy() {
            return Err(not_a_report(format!("not rendered: {report}")));
        }
        let decoded = match &report["result"] {
            Value::String(text) => {
                let compact: String = text.split_whitespace().collect();
                crate::protocol::decode_base64(&compact)
                    .ok_or_else(|| not_a_report("its result is not base64".to_owned()))?
            }
            Value::Bytes(bytes) => bytes.clone(),
            other => return Err(not_a_report(format!("its result is {other}"))),
        };
        report["result"] = Value::Bytes(decoded);
        Ok(vec![report])
    }

    /// The report of one record, as [`reports_fetch`](Self::reports_fetch) gets it:
    /// Python's `report_fetch_one`.
    ///
    /// # Errors
    ///
    /// As [`reports_fetch`](Self::reports_fetch).
    pub fn report_fetch_one(&self, id: u64, context: impl Serialize) -> Result<Value, Error> {
        let mut reports = self.reports_fetch([id], context)?;
        Ok(reports.pop().unwrap_or(Value::Null))
    }

    /// Calls the OpenERP `service` (`report.report`, ...) with `args`, and `context` as a
    /// keyword argument unless it is null or empty.
    fn call_with_context(
        &self,
        service: &str,
        args: Vec<Value>,
        context: impl Serialize,
    ) -> Result<Value, Error> {
        let mut kwargs = Dict::new();
        match to_value(&context)? {
            Value::Null => {}
            Value::Dict(context) if context.is_empty() => {}
            context => {
                kwargs.insert("context".into(), context);
            }
        }
        self.zerp
            .call_kw(&format!("{}:{service}", self.name), args, kwargs)
    }
}

/// OpenERP answers `false` for "none"; scripts test for null.
fn none_as_null(value: Value) -> Value {
    match value {
        Value::Bool(false) => Value::Null,
        other => other,
    }
}

fn records_as<T: DeserializeOwned>(records: Vec<Value>) -> Result<Vec<T>, Error> {
    records
        .into_iter()
        .map(|record| from_value(record).map_err(Error::from))
        .collect()
}

impl std::fmt::Debug for Model<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_resolve_as_pythons_shorthands() {
        assert_eq!(
            method_for("search_fetch"),
            "object.execute.zerp_search_read"
        );
        assert_eq!(method_for("fetch_one"), "object.execute.read");
        assert_eq!(method_for("reports_fetch"), "report.report_get");
        assert_eq!(method_for("schema"), "object.execute.fields_get");
        assert_eq!(method_for("search_count"), "object.execute.search_count");
        assert_eq!(method_for("hello"), "object.execute.hello");
        let zerp = Zerp {
            connection: super::super::Connection::Global,
            database: parking_lot::RwLock::new(Some("sandbox".to_owned())),
        };
        let model = Model::new(&zerp, "product.product", Value::Null);
        assert_eq!(
            model.procedure("read").unwrap(),
            "zerp:sandbox:product.product:object.execute.read"
        );
    }
}
