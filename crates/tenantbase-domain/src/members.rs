//! Every member of a JSON object that keeps it from making a `T`, and every field `T`
//! needs that it lacks: serde stops at the first problem, so each member is tried on its
//! own. The HTTP body extractor names a refused body's problems with it, and the passkey
//! ceremonies a refused credential's, which the API takes as JSON of WebAuthn's shape.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Most members of an object tried one by one, and most absent fields looked for: an
/// object past it is answered with its first problem only.
pub const MEMBERS_TRIED: usize = 64;

/// Largest refused JSON (in bytes, as sent) searched for every problem. Each absent
/// field is looked for with a copy of the object per kind of stand-in, so a large one
/// would cost a bad request many times its size; past this it gets its first problem only.
pub const BYTES_SEARCHED: usize = 16 * 1024;

/// Kinds of value an absent field may take, to stand in for it while looking for the
/// next: serde names one absent field at a time.
const STAND_INS: [fn() -> Value; 6] = [
    || Value::Null,
    || Value::String(String::new()),
    || Value::Bool(false),
    || Value::from(0),
    || Value::Array(Vec::new()),
    || Value::Object(Map::new()),
];

/// Where a value does not fit, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProblem {
    /// The path of the field (`name`, `members[2].email`), as `serde_path_to_error`
    /// writes it, with an absent field's name added.
    pub field: String,
    pub message: String,
}

/// A problem for each member of `members` that does not fit `T` and for each field `T`
/// needs that is absent. `None` when there are more than `MEMBERS_TRIED` members, or no
/// problem could be pinned on any member (a repeated one, say). Meant for an object
/// already refused: it deserialises it many times.
pub fn member_problems<T: DeserializeOwned>(
    members: Map<String, Value>,
) -> Option<Vec<MemberProblem>> {
    fit_apart::<T>(members)
        .map(|apart| apart.problems)
        .filter(|found| !found.is_empty())
}

/// An object taken apart by `fit_apart`.
#[derive(Debug, Clone, PartialEq)]
pub struct FitApart {
    /// Each member that does not fit `T` and each field `T` needs that is absent.
    pub problems: Vec<MemberProblem>,
    /// The object without those members, and with a stand-in (`""`, `false`, `0`, `[]`…)
    /// for each field it lacked: a `T` when no other problem remains.
    pub fitting: Map<String, Value>,
}

/// `members` taken apart as `member_problems` does, keeping what fits. `None` when there
/// are more than `MEMBERS_TRIED` members.
pub fn fit_apart<T: DeserializeOwned>(members: Map<String, Value>) -> Option<FitApart> {
    if members.len() > MEMBERS_TRIED {
        return None;
    }
    let given: Vec<String> = members.keys().cloned().collect();
    let mut problems = Vec::new();
    let mut fitting = Map::new();
    for (key, value) in members {
        match first_problem::<T>(Value::Object(Map::from_iter([(
            key.clone(),
            value.clone(),
        )]))) {
            Some(problem) if absent_path(&problem, &[]).is_none() => problems.push(problem),
            _ => {
                fitting.insert(key, value);
            }
        }
    }
    // Where stand-ins were put: a field absent inside one (an object standing in for an
    // absent struct) gets a stand-in of its own, so the search goes on past it.
    let mut standing_in: Vec<String> = Vec::new();
    for _ in 0..MEMBERS_TRIED {
        let Some(path) = first_problem::<T>(Value::Object(fitting.clone()))
            .and_then(|problem| absent_path(&problem, &standing_in))
        else {
            break;
        };
        let fits = |value: &Value| {
            let mut probe = fitting.clone();
            put(&mut probe, &path, value.clone());
            first_problem::<T>(Value::Object(probe)).is_none_or(|p| p.field != path)
        };
        let stand_in = STAND_INS
            .iter()
            .map(|kind| kind())
            .find(|value| fits(value))
            .or_else(|| named_variant::<T>(&fitting, &path).filter(|value| fits(value)));
        // A member that did not fit is absent from `fitting`, and already named; a field
        // absent inside a stand-in is part of the absent member named before.
        if !path.contains('.') && !given.contains(&path) {
            problems.push(MemberProblem {
                message: format!("missing field `{path}`"),
                field: path.clone(),
            });
        }
        // A field no kind of value satisfies ends the search.
        let Some(stand_in) = stand_in else { break };
        put(&mut fitting, &path, stand_in);
        standing_in.push(path);
    }
    Some(FitApart { problems, fitting })
}

/// A stand-in for an absent enum field: the first variant serde names when refusing an
/// empty string there (``unknown variant ``, expected one of `a`, `b` ``).
fn named_variant<T: DeserializeOwned>(fitting: &Map<String, Value>, path: &str) -> Option<Value> {
    let mut probe = fitting.clone();
    put(&mut probe, path, Value::String(String::new()));
    let problem = first_problem::<T>(Value::Object(probe))?;
    let expected = problem.message.split_once("expected ")?.1;
    let variant = expected.split('`').nth(1)?;
    Some(Value::String(variant.to_owned()))
}

/// The path of the field `problem` says is absent, when it is a top-level one or one
/// inside a stand-in (a field absent inside a member is that member's problem).
fn absent_path(problem: &MemberProblem, standing_in: &[String]) -> Option<String> {
    let name = missing_field(&problem.message)?;
    let parent = problem.field.strip_suffix(name)?;
    let parent = parent.strip_suffix('.').unwrap_or(parent);
    (parent.is_empty() || standing_in.iter().any(|s| s == parent)).then(|| problem.field.clone())
}

/// Puts `value` at `path` (object keys joined by dots) under `members`.
fn put(members: &mut Map<String, Value>, path: &str, value: Value) {
    let mut segments: Vec<&str> = path.split('.').collect();
    let Some(last) = segments.pop() else { return };
    let parent = segments.into_iter().try_fold(members, |object, segment| {
        object.get_mut(segment).and_then(Value::as_object_mut)
    });
    if let Some(parent) = parent {
        parent.insert(last.to_owned(), value);
    }
}

/// Why `value` does not make a `T`, if it does not, as the field to blame.
pub fn first_problem<T: DeserializeOwned>(value: Value) -> Option<MemberProblem> {
    let error = serde_path_to_error::deserialize::<_, T>(value).err()?;
    let path = error.path().to_string();
    let message = error.into_inner().to_string();
    Some(MemberProblem {
        field: field_name(&path, &message),
        message,
    })
}

/// The path of the bad field. serde reports a missing field, or one given twice, at its
/// parent, with the name only in the message (``missing field `name` ``), so it is taken
/// from there.
pub fn field_name(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    match missing_field(message).or_else(|| duplicate_field(message)) {
        Some(name) if parent.is_empty() => name.to_owned(),
        Some(name) => format!("{parent}.{name}"),
        None => parent.to_owned(),
    }
}

/// The name in serde's ``duplicate field `name` `` message.
pub fn duplicate_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("duplicate field `")
        .and_then(|rest| rest.split('`').next())
}

/// The name in serde's ``missing field `name` `` message.
pub fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        a: String,
        b: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
        flag: bool,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        First,
        Second,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct WithKind {
        token: String,
        kind: Kind,
        code: String,
    }

    fn fields(value: Value) -> Vec<String> {
        let Value::Object(members) = value else {
            panic!("an object")
        };
        let mut fields: Vec<String> = member_problems::<Outer>(members)
            .expect("problems")
            .into_iter()
            .map(|p| p.field)
            .collect();
        fields.sort();
        fields
    }

    #[test]
    fn the_search_goes_on_past_an_absent_struct() {
        // `inner` stands in as an object whose own fields get stand-ins: `flag` is found.
        assert_eq!(fields(serde_json::json!({})), ["flag", "inner", "name"]);
        // A given member's own absent fields are that member's problem.
        assert_eq!(
            fields(serde_json::json!({"name": 1, "inner": {"a": "x"}})),
            ["flag", "inner.b", "name"]
        );
    }

    #[test]
    fn the_search_goes_on_past_an_absent_enum() {
        let Value::Object(members) = serde_json::json!({"kind": "third"}) else {
            panic!("an object")
        };
        let fields: Vec<String> = member_problems::<WithKind>(members)
            .expect("problems")
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["kind", "token", "code"]);
        let none = member_problems::<WithKind>(Map::new()).expect("problems");
        let fields: Vec<&str> = none.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["token", "kind", "code"]);
    }
}
