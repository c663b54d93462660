//! Log records as the rules see them: values looked up by field name.

use std::collections::{BTreeMap, HashMap};

/// A log record whose fields are looked up by name (`AnchorMailbox`, `cs-uri-stem`, `_raw`, …).
///
/// Names are exact (case-sensitive), as the log's header spells them. `None` means the record has no such field;
/// `Some("")` means it has the field and it is empty.
pub trait Fields {
    fn get(&self, name: &str) -> Option<&str>;
}

impl<T: Fields + ?Sized> Fields for &T {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

impl<V: AsRef<str>> Fields for BTreeMap<String, V> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(AsRef::as_ref)
    }
}

impl<V: AsRef<str>, S: std::hash::BuildHasher> Fields for HashMap<String, V, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(AsRef::as_ref)
    }
}

/// Pairs of (name, value), searched in order; the first pair with the name wins.
impl<K: AsRef<str>, V: AsRef<str>> Fields for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.as_ref() == name).map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Fields for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        Fields::get(self.as_slice(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_maps_and_references() {
        let pairs = vec![("A", "1"), ("B", ""), ("A", "2")];
        assert_eq!(Fields::get(&pairs, "A"), Some("1"));
        assert_eq!(Fields::get(&pairs, "B"), Some(""));
        assert_eq!(Fields::get(&pairs, "a"), None);
        let map: BTreeMap<String, String> = [("x".to_string(), "y".to_string())].into();
        assert_eq!(Fields::get(&&map, "x"), Some("y"));
    }
}
