//! The tenancy statements both dialects accept, written once and instantiated per backend
//! by `tenant_statements!`: the org unit and the statements on orgs, roles, members and
//! teams. Every statement on org-owned rows binds the unit's org as `$1`. The unit hands
//! projects and events to `project_statements!`, invitations and API keys to
//! `access_statements!` (each backend instantiates all three).

/// Instantiates the tenancy statements and the org unit for `$db` as `tenant_sql`.
#[macro_export]
macro_rules! tenant_statements {
    ($db:ty) => {
        /// The org-scoped unit of work and the tenancy statements, for this backend.
        pub(crate) mod tenant_sql {
            use async_trait::async_trait;
            use chrono::{DateTime, SubsecRound, Utc};
            use tenantbase_domain::OrgId;
            use tenantbase_domain::id::{ApiKeyId, InvitationId, ProjectId, RoleId, TeamId, UserId};
            use tenantbase_domain::model::Event;
            use tenantbase_store::platform::events::NewEvent;
            use tenantbase_domain::model::Enqueued;
            use tenantbase_store::platform::jobs::NewJob;
            use tenantbase_store::tenant::{
                ApiKey, EventQuery, Invitation, Member, Membership, Org, OrgUnit, Project, ProjectQuery, Role, Team,
            };
            use tenantbase_store::tenant_rows::{
                columns, found, to_json_text, MemberRow, MembershipRow, OrgRow, ProjectRow, RoleRow,
            };
            use tenantbase_store::{OrgScope, StoreError, StoreResult};
            use uuid::Uuid;

            type Db = $db;
            type Conn = <Db as sqlx::Database>::Connection;

            fn now() -> DateTime<Utc> {
                // Microseconds: what both databases keep, so returned values equal re-reads.
                Utc::now().trunc_subsecs(6)
            }

            /// What an org unit runs its statements on: a transaction, or — for reads that
            /// need no snapshot and no transaction-local setting (SQLite) — a pooled
            /// connection, which saves the BEGIN and ROLLBACK round trips.
            pub enum Handle {
                Tx(sqlx::Transaction<'static, Db>),
                Pooled(sqlx::pool::PoolConnection<Db>),
            }

            impl std::ops::Deref for Handle {
                type Target = Conn;

                fn deref(&self) -> &Conn {
                    match self {
                        Handle::Tx(tx) => tx,
                        Handle::Pooled(conn) => conn,
                    }
                }
            }

            impl std::ops::DerefMut for Handle {
                fn deref_mut(&mut self) -> &mut Conn {
                    match self {
                        Handle::Tx(tx) => tx,
                        Handle::Pooled(conn) => conn,
                    }
                }
            }

            /// A unit of work confined to one org.
            pub struct OrgTx {
                pub(crate) tx: Handle,
                pub(crate) scope: OrgScope,
            }

            impl OrgTx {
                pub fn new(tx: sqlx::Transaction<'static, Db>, scope: OrgScope) -> Self {
                    Self { tx: Handle::Tx(tx), scope }
                }

                /// Statements run one by one on `conn`, each seeing the latest commit.
                pub fn pooled(conn: sqlx::pool::PoolConnection<Db>, scope: OrgScope) -> Self {
                    Self { tx: Handle::Pooled(conn), scope }
                }

                pub(crate) fn org_id(&self) -> Uuid {
                    self.scope.org_id().as_uuid()
                }
            }

            /// The live orgs of `user`. On PostgreSQL the caller has set `app.user_id`.
            pub async fn orgs_of_user(
                conn: &mut Conn,
                user: UserId,
                after: Option<OrgId>,
                limit: u32,
            ) -> StoreResult<Vec<Membership>> {
                let rows: Vec<MembershipRow> = sqlx::query_as(
                    "SELECT o.id, o.name, o.slug, o.created_by, o.created_at, o.updated_at, o.deleted_at, \
                     m.created_at AS joined_at \
                     FROM org_members m JOIN organizations o ON o.id = m.org_id \
                     WHERE m.user_id = $1 AND o.deleted_at IS NULL AND ($2 IS NULL OR o.id > $2) \
                     ORDER BY o.id LIMIT $3",
                )
                .bind(user.as_uuid())
                .bind(after.map(|id| id.as_uuid()))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                Ok(rows.into_iter().map(Membership::from).collect())
            }

            async fn role_rows(conn: &mut Conn, sql: &str, org: Uuid, user: Option<Uuid>) -> StoreResult<Vec<Role>> {
                let rows: Vec<RoleRow> = sqlx::query_as(sql).bind(org).bind(user).fetch_all(&mut *conn).await?;
                rows.into_iter().map(Role::try_from).collect()
            }

            /// Members of `org` (with their direct roles) whose ids satisfy `filter`.
            async fn member_page(
                conn: &mut Conn,
                org: Uuid,
                only: Option<Uuid>,
                after: Option<Uuid>,
                limit: u32,
            ) -> StoreResult<Vec<Member>> {
                let rows: Vec<MemberRow> = sqlx::query_as(
                    "SELECT m.user_id, u.email, u.display_name, u.is_guest, m.created_at \
                     FROM org_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.org_id = $1 AND ($2 IS NULL OR m.user_id = $2) AND ($3 IS NULL OR m.user_id > $3) \
                     ORDER BY m.user_id LIMIT $4",
                )
                .bind(org)
                .bind(only)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    return Ok(Vec::new());
                };
                let grants: Vec<(Uuid, Uuid)> = sqlx::query_as(
                    "SELECT user_id, role_id FROM member_roles \
                     WHERE org_id = $1 AND user_id >= $2 AND user_id <= $3",
                )
                .bind(org)
                .bind(first.user_id)
                .bind(last.user_id)
                .fetch_all(&mut *conn)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|row| Member {
                        user_id: UserId::from_uuid(row.user_id),
                        role_ids: grants
                            .iter()
                            .filter(|(user, _)| *user == row.user_id)
                            .map(|(_, role)| RoleId::from_uuid(*role))
                            .collect(),
                        email: row.email,
                        display_name: row.display_name,
                        is_guest: row.is_guest,
                        joined_at: row.created_at,
                    })
                    .collect())
            }

            async fn grant_member_roles(conn: &mut Conn, org: Uuid, user: Uuid, roles: &[RoleId]) -> StoreResult<()> {
                for role in roles {
                    sqlx::query("INSERT INTO member_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
                        .bind(org)
                        .bind(user)
                        .bind(role.as_uuid())
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }



            #[async_trait]
            impl OrgUnit for OrgTx {
                fn scope(&self) -> OrgScope {
                    self.scope
                }

                async fn org(&mut self) -> StoreResult<Org> {
                    let row: Option<OrgRow> =
                        sqlx::query_as(&format!("SELECT {} FROM organizations WHERE id = $1", columns::ORG))
                            .bind(self.org_id())
                            .fetch_optional(&mut *self.tx)
                            .await?;
                    row.map(Org::from).ok_or(StoreError::NotFound)
                }

                async fn create_org(&mut self, name: &str, slug: &str, created_by: UserId) -> StoreResult<Org> {
                    let now = now();
                    sqlx::query(
                        "INSERT INTO organizations (id, name, slug, created_by, created_at, updated_at, deleted_at) \
                         VALUES ($1, $2, $3, $4, $5, $5, NULL)",
                    )
                    .bind(self.org_id())
                    .bind(name)
                    .bind(slug)
                    .bind(created_by.as_uuid())
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(Org {
                        id: self.scope.org_id(),
                        name: name.to_owned(),
                        slug: slug.to_owned(),
                        created_by,
                        created_at: now,
                        updated_at: now,
                        deleted_at: None,
                    })
                }

                async fn update_org(&mut self, name: &str, slug: &str) -> StoreResult<Org> {
                    let changed = sqlx::query("UPDATE organizations SET name = $2, slug = $3, updated_at = $4 WHERE id = $1")
                        .bind(self.org_id())
                        .bind(name)
                        .bind(slug)
                        .bind(now())
                        .execute(&mut *self.tx)
                        .await?;
                    found(changed.rows_affected())?;
                    self.org().await
                }

                async fn lock_org(&mut self) -> StoreResult<()> {
                    sqlx::query(&format!("SELECT id FROM organizations WHERE id = $1 {}", super::dialect::USER_ROW_LOCK))
                        .bind(self.org_id())
                        .fetch_optional(&mut *self.tx)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    Ok(())
                }

                async fn set_org_deleted(&mut self, deleted_at: Option<DateTime<Utc>>) -> StoreResult<()> {
                    let changed = sqlx::query("UPDATE organizations SET deleted_at = $2, updated_at = $3 WHERE id = $1")
                        .bind(self.org_id())
                        .bind(deleted_at.map(|at| at.trunc_subsecs(6)))
                        .bind(now())
                        .execute(&mut *self.tx)
                        .await?;
                    found(changed.rows_affected())
                }

                async fn purge_org(&mut self) -> StoreResult<()> {
                    // The org's row first, then its creator's: the order uploads take them in.
                    self.lock_org().await?;
                    let org = self.org_id();
                    super::creator_sql::release_org(&mut self.tx, org).await?;
                    // Everything the org owns references it with ON DELETE CASCADE.
                    let gone = sqlx::query("DELETE FROM organizations WHERE id = $1")
                        .bind(self.org_id())
                        .execute(&mut *self.tx)
                        .await?;
                    found(gone.rows_affected())
                }

                async fn take_org_slot(&mut self, creator: UserId, cap: u32) -> StoreResult<bool> {
                    super::creator_sql::take_org_slot(&mut self.tx, creator.as_uuid(), cap).await
                }

                async fn roles(&mut self) -> StoreResult<Vec<Role>> {
                    let org = self.org_id();
                    role_rows(
                        &mut self.tx,
                        &format!("SELECT {} FROM org_roles WHERE org_id = $1 AND $2 IS NULL ORDER BY created_at, id", columns::ROLE),
                        org,
                        None,
                    )
                    .await
                }

                async fn insert_role(&mut self, role: &Role) -> StoreResult<()> {
                    sqlx::query(&format!(
                        "INSERT INTO org_roles (org_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        columns::ROLE
                    ))
                    .bind(self.org_id())
                    .bind(role.id.as_uuid())
                    .bind(&role.name)
                    .bind(&role.description)
                    .bind(to_json_text(&role.permissions))
                    .bind(role.builtin)
                    .bind(role.created_at)
                    .bind(role.updated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                async fn update_role(&mut self, role: &Role) -> StoreResult<()> {
                    let changed = sqlx::query(
                        "UPDATE org_roles SET name = $3, description = $4, permissions = $5, updated_at = $6 \
                         WHERE org_id = $1 AND id = $2 AND builtin = $7",
                    )
                    .bind(self.org_id())
                    .bind(role.id.as_uuid())
                    .bind(&role.name)
                    .bind(&role.description)
                    .bind(to_json_text(&role.permissions))
                    .bind(role.updated_at)
                    .bind(false)
                    .execute(&mut *self.tx)
                    .await?;
                    found(changed.rows_affected())
                }

                async fn delete_role(&mut self, id: RoleId) -> StoreResult<()> {
                    let gone = sqlx::query("DELETE FROM org_roles WHERE org_id = $1 AND id = $2 AND builtin = $3")
                        .bind(self.org_id())
                        .bind(id.as_uuid())
                        .bind(false)
                        .execute(&mut *self.tx)
                        .await?;
                    found(gone.rows_affected())
                }

                async fn role_in_use(&mut self, id: RoleId, now: DateTime<Utc>) -> StoreResult<bool> {
                    let (uses,): (i64,) = sqlx::query_as(
                        "SELECT (SELECT COUNT(*) FROM member_roles WHERE org_id = $1 AND role_id = $2) \
                         + (SELECT COUNT(*) FROM team_roles WHERE org_id = $1 AND role_id = $2) \
                         + (SELECT COUNT(*) FROM invitations WHERE org_id = $1 AND accepted_at IS NULL \
                            AND revoked_at IS NULL AND expires_at > $4 AND role_ids LIKE $3)",
                    )
                    .bind(self.org_id())
                    .bind(id.as_uuid())
                    .bind(format!("%\"{id}\"%"))
                    .bind(now)
                    .fetch_one(&mut *self.tx)
                    .await?;
                    Ok(uses > 0)
                }

                async fn members(&mut self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<Member>> {
                    let org = self.org_id();
                    member_page(&mut self.tx, org, None, after.map(|id| id.as_uuid()), limit).await
                }

                async fn member(&mut self, user: UserId) -> StoreResult<Option<Member>> {
                    let org = self.org_id();
                    Ok(member_page(&mut self.tx, org, Some(user.as_uuid()), None, 1).await?.pop())
                }

                async fn add_member(&mut self, user: UserId, roles: &[RoleId]) -> StoreResult<()> {
                    let org = self.org_id();
                    sqlx::query("INSERT INTO org_members (org_id, user_id, created_at) VALUES ($1, $2, $3)")
                        .bind(org)
                        .bind(user.as_uuid())
                        .bind(now())
                        .execute(&mut *self.tx)
                        .await?;
                    grant_member_roles(&mut self.tx, org, user.as_uuid(), roles).await
                }

                async fn set_member_roles(&mut self, user: UserId, roles: &[RoleId]) -> StoreResult<()> {
                    let org = self.org_id();
                    sqlx::query("DELETE FROM member_roles WHERE org_id = $1 AND user_id = $2")
                        .bind(org)
                        .bind(user.as_uuid())
                        .execute(&mut *self.tx)
                        .await?;
                    grant_member_roles(&mut self.tx, org, user.as_uuid(), roles).await
                }

                async fn remove_member(&mut self, user: UserId) -> StoreResult<bool> {
                    let gone = sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
                        .bind(self.org_id())
                        .bind(user.as_uuid())
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(gone.rows_affected() > 0)
                }

                async fn roles_of_member(&mut self, user: UserId) -> StoreResult<Option<Vec<Role>>> {
                    let org = self.org_id();
                    let member: Option<(Uuid,)> =
                        sqlx::query_as("SELECT user_id FROM org_members WHERE org_id = $1 AND user_id = $2")
                            .bind(org)
                            .bind(user.as_uuid())
                            .fetch_optional(&mut *self.tx)
                            .await?;
                    if member.is_none() {
                        return Ok(None);
                    }
                    let roles = role_rows(
                        &mut self.tx,
                        &format!(
                            "SELECT {} FROM org_roles WHERE org_id = $1 AND (\
                             id IN (SELECT role_id FROM member_roles WHERE org_id = $1 AND user_id = $2) \
                             OR id IN (SELECT r.role_id FROM team_roles r JOIN team_members m \
                               ON m.org_id = r.org_id AND m.team_id = r.team_id \
                               WHERE r.org_id = $1 AND m.user_id = $2)) \
                             ORDER BY created_at, id",
                            columns::ROLE
                        ),
                        org,
                        Some(user.as_uuid()),
                    )
                    .await?;
                    Ok(Some(roles))
                }

                async fn members_with_role(&mut self, role: RoleId) -> StoreResult<Vec<UserId>> {
                    let rows: Vec<(Uuid,)> = sqlx::query_as(
                        "SELECT user_id FROM member_roles WHERE org_id = $1 AND role_id = $2 ORDER BY user_id",
                    )
                    .bind(self.org_id())
                    .bind(role.as_uuid())
                    .fetch_all(&mut *self.tx)
                    .await?;
                    Ok(rows.into_iter().map(|(id,)| UserId::from_uuid(id)).collect())
                }

                async fn teams(&mut self) -> StoreResult<Vec<Team>> {
                    let org = self.org_id();
                    let teams: Vec<(Uuid, String, DateTime<Utc>)> =
                        sqlx::query_as("SELECT id, name, created_at FROM teams WHERE org_id = $1 ORDER BY name, id")
                            .bind(org)
                            .fetch_all(&mut *self.tx)
                            .await?;
                    let roles: Vec<(Uuid, Uuid)> =
                        sqlx::query_as("SELECT team_id, role_id FROM team_roles WHERE org_id = $1 ORDER BY role_id")
                            .bind(org)
                            .fetch_all(&mut *self.tx)
                            .await?;
                    let members: Vec<(Uuid, Uuid)> =
                        sqlx::query_as("SELECT team_id, user_id FROM team_members WHERE org_id = $1 ORDER BY user_id")
                            .bind(org)
                            .fetch_all(&mut *self.tx)
                            .await?;
                    Ok(teams
                        .into_iter()
                        .map(|(id, name, created_at)| Team {
                            id: TeamId::from_uuid(id),
                            name,
                            role_ids: roles.iter().filter(|(t, _)| *t == id).map(|(_, r)| RoleId::from_uuid(*r)).collect(),
                            member_ids: members.iter().filter(|(t, _)| *t == id).map(|(_, u)| UserId::from_uuid(*u)).collect(),
                            created_at,
                        })
                        .collect())
                }

                async fn insert_team(&mut self, id: TeamId, name: &str) -> StoreResult<()> {
                    sqlx::query("INSERT INTO teams (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(id.as_uuid())
                        .bind(self.org_id())
                        .bind(name)
                        .bind(now())
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                async fn rename_team(&mut self, id: TeamId, name: &str) -> StoreResult<()> {
                    let changed = sqlx::query("UPDATE teams SET name = $3 WHERE org_id = $1 AND id = $2")
                        .bind(self.org_id())
                        .bind(id.as_uuid())
                        .bind(name)
                        .execute(&mut *self.tx)
                        .await?;
                    found(changed.rows_affected())
                }

                async fn set_team_roles(&mut self, id: TeamId, roles: &[RoleId]) -> StoreResult<()> {
                    let org = self.org_id();
                    sqlx::query("DELETE FROM team_roles WHERE org_id = $1 AND team_id = $2")
                        .bind(org)
                        .bind(id.as_uuid())
                        .execute(&mut *self.tx)
                        .await?;
                    for role in roles {
                        sqlx::query("INSERT INTO team_roles (org_id, team_id, role_id) VALUES ($1, $2, $3)")
                            .bind(org)
                            .bind(id.as_uuid())
                            .bind(role.as_uuid())
                            .execute(&mut *self.tx)
                            .await?;
                    }
                    Ok(())
                }

                async fn delete_team(&mut self, id: TeamId) -> StoreResult<()> {
                    let gone = sqlx::query("DELETE FROM teams WHERE org_id = $1 AND id = $2")
                        .bind(self.org_id())
                        .bind(id.as_uuid())
                        .execute(&mut *self.tx)
                        .await?;
                    found(gone.rows_affected())
                }

                async fn add_team_member(&mut self, id: TeamId, user: UserId) -> StoreResult<()> {
                    sqlx::query("INSERT INTO team_members (org_id, team_id, user_id) VALUES ($1, $2, $3)")
                        .bind(self.org_id())
                        .bind(id.as_uuid())
                        .bind(user.as_uuid())
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                async fn remove_team_member(&mut self, id: TeamId, user: UserId) -> StoreResult<bool> {
                    let gone = sqlx::query("DELETE FROM team_members WHERE org_id = $1 AND team_id = $2 AND user_id = $3")
                        .bind(self.org_id())
                        .bind(id.as_uuid())
                        .bind(user.as_uuid())
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(gone.rows_affected() > 0)
                }

                async fn insert_invitation(&mut self, invitation: &Invitation, token_hash: &str) -> StoreResult<()> {
                    let org = self.org_id();
                    super::access_sql::insert_invitation(&mut self.tx, org, invitation, token_hash).await
                }

                async fn pending_invitations(&mut self, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>> {
                    let org = self.org_id();
                    super::access_sql::pending_invitations(&mut self.tx, org, now).await
                }

                async fn invitation_by_token(&mut self, token_hash: &str) -> StoreResult<Option<Invitation>> {
                    let org = self.org_id();
                    super::access_sql::invitation_by_token(&mut self.tx, org, token_hash).await
                }

                async fn revoke_invitation(&mut self, id: InvitationId, now: DateTime<Utc>) -> StoreResult<bool> {
                    let org = self.org_id();
                    super::access_sql::revoke_invitation(&mut self.tx, org, id, now).await
                }

                async fn accept_invitation(&mut self, id: InvitationId, user: UserId, now: DateTime<Utc>) -> StoreResult<bool> {
                    let org = self.org_id();
                    super::access_sql::accept_invitation(&mut self.tx, org, id, user, now).await
                }

                async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> StoreResult<()> {
                    let org = self.org_id();
                    super::access_sql::insert_api_key(&mut self.tx, org, key, secret_hash).await
                }

                async fn api_keys(&mut self) -> StoreResult<Vec<ApiKey>> {
                    let org = self.org_id();
                    super::access_sql::api_keys(&mut self.tx, org).await
                }

                async fn api_key_by_secret(&mut self, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
                    let org = self.org_id();
                    super::access_sql::api_key_by_secret(&mut self.tx, org, secret_hash).await
                }

                async fn revoke_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<bool> {
                    let org = self.org_id();
                    super::access_sql::revoke_api_key(&mut self.tx, org, id, now).await
                }

                async fn touch_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
                    let org = self.org_id();
                    super::access_sql::touch_api_key(&mut self.tx, org, id, now).await
                }

                async fn insert_projects(&mut self, projects: &[Project]) -> StoreResult<()> {
                    let org = self.org_id();
                    super::project_sql::insert_projects(&mut self.tx, org, projects).await
                }

                async fn project(&mut self, id: ProjectId) -> StoreResult<Project> {
                    let org = self.org_id();
                    super::project_sql::project(&mut self.tx, org, id).await
                }

                async fn update_project(&mut self, project: &Project) -> StoreResult<()> {
                    let org = self.org_id();
                    super::project_sql::update_project(&mut self.tx, org, project).await
                }

                async fn set_projects_deleted(&mut self, ids: &[ProjectId], deleted_at: Option<DateTime<Utc>>) -> StoreResult<u64> {
                    let org = self.org_id();
                    super::project_sql::set_projects_deleted(&mut self.tx, org, ids, deleted_at).await
                }

                async fn projects(&mut self, query: &ProjectQuery) -> StoreResult<Vec<Project>> {
                    let org = self.org_id();
                    super::project_sql::projects(&mut self.tx, org, query).await
                }

                async fn append_event(&mut self, event: NewEvent) -> StoreResult<Event> {
                    if event.org_id != Some(self.scope.org_id()) {
                        return Err(StoreError::Invalid("an org unit appends only to its org's chain".to_owned()));
                    }
                    super::sql::platform::events::append_event(&mut self.tx, event).await
                }

                async fn events(&mut self, query: &EventQuery) -> StoreResult<Vec<Event>> {
                    let org = self.org_id();
                    super::project_sql::events(&mut self.tx, org, query).await
                }
                async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued> {
                    super::sql::platform::jobs::enqueue_job(&mut self.tx, job).await
                }

                async fn commit(self: Box<Self>) -> StoreResult<()> {
                    match self.tx {
                        Handle::Tx(tx) => Ok(tx.commit().await?),
                        Handle::Pooled(_) => Ok(()),
                    }
                }
            }
        }
    };
}
