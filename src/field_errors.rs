//! The shape of "these fields were refused, and why", shared by the store (a constraint that
//! names its field), the domain's rules and the HTTP door's `validation_error` (its own file so
//! that none of the three has to import another for it).

use std::collections::BTreeMap;

/// Field name → messages, the `details` of a `validation_error`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;
