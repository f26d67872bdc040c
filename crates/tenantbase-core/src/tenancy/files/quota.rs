//! The storage limits an upload meets: the per-file cap, the org's quota and the quota of
//! the user who created the org, which counts every org they created (so a free account
//! cannot multiply its storage by creating orgs). Uploads are checked before streaming,
//! from a read (an early refusal and a cap on the stream), and again under the org's and
//! the creator's row locks when the file or presigned upload is recorded, which decides.

use chrono::Utc;
use tenantbase_store::OrgUnit;

use super::ingest::Budget;
use super::{FileRefusal, StorageQuota};
use crate::tenancy::access::OrgAccess;
use crate::tenancy::{Tenancy, TenancyError};

/// Bytes in use, by the org and by its creator across their orgs.
struct Usage {
    org: u64,
    creator: u64,
}

impl Tenancy {
    async fn usage(&self, unit: &mut dyn OrgUnit) -> Result<Usage, TenancyError> {
        let now = Utc::now();
        Ok(Usage {
            org: unit.bytes_used(now).await?,
            creator: unit.creator_bytes_used(now).await?,
        })
    }

    /// The quota with the least room left: that room, and the refusal past it.
    fn tightest_quota(&self, usage: &Usage) -> (u64, FileRefusal) {
        let files = &self.policy.files;
        let room = |quota, quota_bytes: u64, used_bytes: u64| {
            let refusal = FileRefusal::QuotaExceeded {
                quota,
                quota_bytes,
                used_bytes,
            };
            (quota_bytes.saturating_sub(used_bytes), refusal)
        };
        let org = room(StorageQuota::Org, files.quota_bytes, usage.org);
        let creator = room(
            StorageQuota::Creator,
            files.creator_quota_bytes,
            usage.creator,
        );
        if creator.0 < org.0 { creator } else { org }
    }

    /// The bytes an upload may still bring: the smaller of the file cap and what is left
    /// of the quotas, refused early if `declared` is already beyond it.
    pub(super) async fn budget(
        &self,
        access: &OrgAccess,
        declared: Option<u64>,
    ) -> Result<Budget, TenancyError> {
        let max_file_bytes = self.policy.files.max_file_bytes;
        let mut unit = self.store.read_org(access.scope()).await?;
        let usage = self.usage(unit.as_mut()).await?;
        let (left, over) = self.tightest_quota(&usage);
        let budget = if left < max_file_bytes {
            Budget { bytes: left, over }
        } else {
            Budget {
                bytes: max_file_bytes,
                over: FileRefusal::TooLarge {
                    max_bytes: max_file_bytes,
                },
            }
        };
        match declared {
            Some(size) if size > budget.bytes => Err(TenancyError::File(budget.over)),
            _ => Ok(budget),
        }
    }

    /// Refuses `size` more bytes if the org's quota or its creator's cannot take them.
    /// Called under the org's lock; takes the creator's, so concurrent uploads to one org,
    /// or to two orgs of one creator, cannot overrun either quota together.
    pub(super) async fn check_quota(
        &self,
        unit: &mut dyn OrgUnit,
        size: u64,
    ) -> Result<(), TenancyError> {
        unit.lock_creator().await?;
        let usage = self.usage(unit).await?;
        let (left, over) = self.tightest_quota(&usage);
        if size > left {
            return Err(TenancyError::File(over));
        }
        Ok(())
    }
}
