//! The operations of an OpenAPI path item, which route declarations annotate (`guard`,
//! `refusals`, `limited`).

use utoipa::openapi::PathItem;
use utoipa::openapi::path::Operation;

/// Every operation of a path item, whatever its method.
pub(crate) fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}
