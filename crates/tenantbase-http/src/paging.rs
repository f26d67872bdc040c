//! Paging of lists held whole in memory: short ones, each bounded by a limit of its own,
//! answered in pages all the same so every list of the API takes `limit` and `cursor`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tenantbase_domain::page::{InvalidCursor, Page, PageQuery};

use crate::ApiError;

/// Pages `list`, a short list held whole in memory (roles, teams, invitations, keys, a
/// user's sessions and passkeys, the permission catalog), in the order of `key`, which
/// ends with the id so no two items share one. The cursor holds the list's name and the
/// last item's key, not its place: the next page follows on even when that item went
/// away meanwhile (a team deleted, an invitation accepted), and another list's cursor,
/// whose key may read the same, is refused rather than followed.
pub(crate) fn page_of<T, K>(
    list: &str,
    mut items: Vec<T>,
    key: impl Fn(&T) -> K,
    query: &PageQuery,
) -> Result<Page<T>, ApiError>
where
    K: Ord + Serialize + DeserializeOwned,
{
    items.sort_by_cached_key(&key);
    let start = match &query.cursor {
        None => 0,
        Some(cursor) => match cursor.decode::<(String, K)>()? {
            (of, after) if of == list => items.partition_point(|item| key(item) <= after),
            _ => return Err(InvalidCursor.into()),
        },
    };
    let rest: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(query.limit.fetch() as usize)
        .collect();
    Ok(Page::of(rest, query.limit, |item| (list, key(item))))
}
