//! `value["key"]` and `value[i]`, which give [`Value::Null`] for what is missing.

use std::ops::Index;

use super::Value;

/// Returned by [`Index`] when a key or position is missing.
static NULL: Value = Value::Null;

/// `value["key"]` looks a key up in a [`Value::Dict`]; like `serde_json`, it
/// gives [`Value::Null`] when the key is missing or the value is not a dict.
impl Index<&str> for Value {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]` gets an item of a [`Value::List`]; like `serde_json`, it gives
/// [`Value::Null`] when out of range or when the value is not a list.
impl Index<usize> for Value {
    type Output = Value;

    fn index(&self, index: usize) -> &Value {
        self.as_list()
            .and_then(|list| list.get(index))
            .unwrap_or(&NULL)
    }
}
