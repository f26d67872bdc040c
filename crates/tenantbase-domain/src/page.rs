//! The list kit every list of the API shares: a `Page` of items, the `PageQuery` asking
//! for one (its limit's bounds and default live here only), the opaque `Cursor` that
//! continues a list — one encoding whether it holds a keyset position or an offset — and
//! the `Order` of a sorted list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A page of a list: `next_cursor` is null on the last page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[schema(value_type = Option<String>)]
    pub next_cursor: Option<Cursor>,
}

impl<T> Page<T> {
    /// A list that is whole: no page follows.
    pub fn whole(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
        }
    }

    /// The same page of other items, e.g. the API's views of the entities.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }

    /// The page of `fetched`, read with `query.limit().fetch()` (one more than the
    /// limit, to know whether more follow); the cursor names where the next page starts.
    pub fn of<P: Serialize>(
        mut fetched: Vec<T>,
        limit: Limit,
        position: impl FnOnce(&T) -> P,
    ) -> Self {
        let more = fetched.len() > limit.get() as usize;
        fetched.truncate(limit.get() as usize);
        let next_cursor = fetched
            .last()
            .filter(|_| more)
            .map(|last| Cursor::encode(&position(last)));
        Self {
            items: fetched,
            next_cursor,
        }
    }
}

/// Which page of a list to answer.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, default 50.
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Limit,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor>,
}

/// How many items a page holds: 1–100, 50 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub const MAX: u32 = 100;
    pub const DEFAULT: u32 = 50;

    /// `None` outside 1–`MAX`.
    pub fn new(limit: u32) -> Option<Self> {
        (1..=Self::MAX).contains(&limit).then_some(Self(limit))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// How many rows to read: one more than the page holds, to know if more follow.
    pub fn fetch(self) -> u32 {
        self.0 + 1
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// From a number or, as a query string has it, the text of one.
impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitVisitor;
        impl Visitor<'_> for LimitVisitor {
            type Value = Limit;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a number between 1 and {}", Limit::MAX)
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Limit, E> {
                u32::try_from(value)
                    .ok()
                    .and_then(Limit::new)
                    .ok_or_else(|| E::custom(format!("must be between 1 and {}", Limit::MAX)))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Limit, E> {
                self.visit_u64(u64::try_from(value).unwrap_or(0))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Limit, E> {
                let value: i64 = text
                    .parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))?;
                self.visit_i64(value)
            }
        }
        deserializer.deserialize_any(LimitVisitor)
    }
}

/// Where a list continues: opaque to clients, the URL-safe base64 of a JSON position that
/// only the list that made it can read — a keyset position (the last item's sort key and
/// id) or an offset. Text that is no cursor at all is refused as the query is parsed, so
/// its 422 lists it with the query's other bad parameters; a cursor of another list is
/// refused when the list reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let cursor = Self(String::deserialize(deserializer)?);
        cursor
            .decode::<de::IgnoredAny>()
            .map_err(de::Error::custom)?;
        Ok(cursor)
    }
}

/// A cursor that is not one of this list (made by another list, another sort, or not at
/// all by us).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a cursor of this list")]
pub struct InvalidCursor;

impl Cursor {
    pub fn encode<P: Serialize>(position: &P) -> Self {
        Self(URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default()))
    }

    /// The position this cursor holds, if it holds one of type `P`.
    pub fn decode<P: DeserializeOwned>(&self) -> Result<P, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| InvalidCursor)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The direction of a sorted list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    pub fn is_desc(self) -> bool {
        self == Self::Desc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded_and_default_to_fifty() {
        let parse = |text: &str| serde_json::from_str::<Limit>(text).map(Limit::get);
        assert_eq!(parse("1").ok(), Some(1));
        assert_eq!(parse("\"100\"").ok(), Some(100));
        for refused in ["0", "101", "-1", "\"x\"", "4294967297"] {
            assert!(parse(refused).is_err(), "{refused}");
        }
        assert_eq!(Limit::default().get(), 50);
        assert_eq!(Limit::new(7).map(Limit::fetch), Some(8));
    }

    #[test]
    fn a_cursor_gives_back_its_position_and_refuses_others() {
        let cursor = Cursor::encode(&("2026-01-01T00:00:00Z", "prj_1"));
        let back: (String, String) = cursor.decode().expect("position");
        assert_eq!(
            back,
            ("2026-01-01T00:00:00Z".to_owned(), "prj_1".to_owned())
        );
        assert_eq!(cursor.decode::<u64>(), Err(InvalidCursor));
        let garbage = Cursor("garbage!".to_owned());
        assert_eq!(garbage.decode::<u64>(), Err(InvalidCursor));
        assert!(!cursor.as_str().contains('='), "URL-safe, unpadded");
    }

    #[test]
    fn text_that_is_no_cursor_is_refused_as_it_is_read() {
        let read = |text: &str| serde_json::from_value::<Cursor>(serde_json::json!(text));
        let made = Cursor::encode(&("2026-01-01T00:00:00Z", "prj_1"));
        assert_eq!(read(made.as_str()).ok(), Some(made));
        // Not base64; base64 of text that is not JSON.
        for refused in ["garbage!", "bm90IGpzb24"] {
            let error = read(refused).expect_err(refused).to_string();
            assert!(error.contains("is not a cursor of this list"), "{error}");
        }
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        let limit = Limit::new(2).expect("limit");
        let more = Page::of(vec![1u32, 2, 3], limit, |n| *n);
        assert_eq!(more.items, [1, 2]);
        assert_eq!(more.next_cursor.map(|c| c.decode::<u32>()), Some(Ok(2)));
        let last = Page::of(vec![1u32, 2], limit, |n| *n);
        assert!(last.next_cursor.is_none());
    }
}
