//! `store_areas!`: the area traits a backend implements by handing each call to the
//! shared statements (`shared_statements!`, `identity_statements!`, `sql::run`) with the
//! right pool. Both backends differ only in which pool reads and which writes, so the
//! delegation is written once here.

/// Implements the settings, event, job and identity traits for `$store`, reading
/// through `self.$reader` and writing through `self.$writer`. Expects the backend's
/// `shared`, `identity_sql` and `profile_sql` modules and its `CLAIM_ROW_LOCK` in scope.
#[macro_export]
macro_rules! store_areas {
    ($store:ty, reader: $reader:ident, writer: $writer:ident) => {
        #[async_trait::async_trait]
        impl $crate::SettingsStore for $store {
            async fn get_setting(&self, key: &str) -> $crate::StoreResult<Option<$crate::Setting>> {
                $crate::sql::run::get_setting(&self.$reader, key).await
            }

            async fn put_setting(
                &self,
                key: &str,
                value: &serde_json::Value,
            ) -> $crate::StoreResult<$crate::Setting> {
                $crate::sql::run::put_setting(&self.$writer, key, value).await
            }

            async fn delete_setting(&self, key: &str) -> $crate::StoreResult<()> {
                $crate::sql::run::delete_setting(&self.$writer, key).await
            }
        }

        #[async_trait::async_trait]
        impl $crate::EventStore for $store {
            async fn events_after(
                &self,
                chain: &str,
                after_seq: i64,
                limit: u32,
            ) -> $crate::StoreResult<Vec<$crate::events::Event>> {
                shared::events_after(&self.$reader, chain, after_seq, limit).await
            }

            async fn chain_heads(&self) -> $crate::StoreResult<Vec<$crate::events::ChainHead>> {
                shared::chain_heads(&self.$reader).await
            }
        }

        #[async_trait::async_trait]
        impl $crate::JobStore for $store {
            async fn claim_jobs(
                &self,
                worker: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease: std::time::Duration,
                limit: u32,
            ) -> $crate::StoreResult<Vec<$crate::jobs::ClaimedJob>> {
                let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
                let rows: Vec<$crate::sql::ClaimedRow> =
                    sqlx::query_as(&$crate::shared::claim_sql(CLAIM_ROW_LOCK))
                        .bind(worker)
                        .bind(now + lease)
                        .bind(now)
                        .bind(i64::from(limit))
                        .fetch_all(&self.$writer)
                        .await?;
                rows.into_iter()
                    .map($crate::jobs::ClaimedJob::try_from)
                    .collect()
            }

            async fn complete_jobs(
                &self,
                ids: &[tenantbase_domain::JobId],
                worker: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::StoreResult<u64> {
                shared::complete_jobs(&self.$writer, ids, worker, now).await
            }

            async fn fail_job(
                &self,
                id: tenantbase_domain::JobId,
                worker: &str,
                error: &str,
                retry_at: Option<chrono::DateTime<chrono::Utc>>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::StoreResult<bool> {
                shared::fail_job(&self.$writer, id, worker, error, retry_at, now).await
            }

            async fn list_jobs(
                &self,
                state: Option<$crate::jobs::JobState>,
                limit: u32,
            ) -> $crate::StoreResult<Vec<$crate::jobs::Job>> {
                shared::list_jobs(&self.$reader, state, limit).await
            }

            async fn get_job(
                &self,
                id: tenantbase_domain::JobId,
            ) -> $crate::StoreResult<$crate::jobs::Job> {
                shared::get_job(&self.$reader, id).await
            }

            async fn queue_depth(&self) -> $crate::StoreResult<Vec<$crate::jobs::QueueDepth>> {
                shared::queue_depth(&self.$reader).await
            }

            async fn delete_finished_jobs(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::StoreResult<u64> {
                shared::delete_finished_jobs(&self.$writer, before).await
            }
        }

        #[async_trait::async_trait]
        impl $crate::ProfileStore for $store {
            async fn profile(
                &self,
                user: tenantbase_domain::id::UserId,
            ) -> $crate::StoreResult<$crate::files::Profile> {
                profile_sql::profile(&self.$reader, user).await
            }

            async fn update_profile(
                &self,
                user: tenantbase_domain::id::UserId,
                profile: &$crate::files::Profile,
            ) -> $crate::StoreResult<()> {
                profile_sql::update_profile(&self.$writer, user, profile).await
            }

            async fn set_avatar(
                &self,
                user: tenantbase_domain::id::UserId,
                previous: Option<&$crate::files::Avatar>,
                avatar: Option<&$crate::files::Avatar>,
            ) -> $crate::StoreResult<bool> {
                profile_sql::set_avatar(&self.$writer, user, previous, avatar).await
            }
        }

        #[async_trait::async_trait]
        impl $crate::IdentityStore for $store {
            async fn user_by_email(
                &self,
                email: &str,
            ) -> $crate::StoreResult<Option<$crate::identity::User>> {
                identity_sql::user_by_email(&self.$reader, email).await
            }

            async fn user_by_id(
                &self,
                id: tenantbase_domain::id::UserId,
            ) -> $crate::StoreResult<$crate::identity::User> {
                identity_sql::user_by_id(&self.$reader, id).await
            }

            async fn session_by_id(
                &self,
                id: tenantbase_domain::id::SessionId,
            ) -> $crate::StoreResult<$crate::identity::Session> {
                identity_sql::session_by_id(&self.$reader, id).await
            }

            async fn live_sessions(
                &self,
                user_id: tenantbase_domain::id::UserId,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::StoreResult<Vec<$crate::identity::Session>> {
                identity_sql::live_sessions(&self.$reader, user_id, now).await
            }

            async fn touch_session(
                &self,
                id: tenantbase_domain::id::SessionId,
                now: chrono::DateTime<chrono::Utc>,
                idle_expires_at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::StoreResult<()> {
                identity_sql::touch_session(&self.$writer, id, now, idle_expires_at).await
            }

            async fn signing_keys(
                &self,
            ) -> $crate::StoreResult<Vec<$crate::identity::SigningKeyRow>> {
                identity_sql::signing_keys(&self.$reader).await
            }

            async fn user_token_owner(
                &self,
                token_hash: &str,
                purpose: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::StoreResult<Option<tenantbase_domain::id::UserId>> {
                identity_sql::user_token_owner(&self.$reader, token_hash, purpose, now).await
            }
        }
    };
}
