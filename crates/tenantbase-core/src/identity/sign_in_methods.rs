//! The ways an account can sign in, counted before one is taken away: an account must
//! keep at least one. And whether a linked identity still is one, for a sign-in through it.

use tenantbase_domain::id::{IdentityId, UserId};
use tenantbase_domain::model::User;
use tenantbase_store::{StoreResult, UnitOfWork};

use super::Identity;

impl Identity {
    /// How many ways to sign in `user` keeps once the identity `removing` is gone: its
    /// password, its linked identities and, while passkeys are on, its passkeys — with no
    /// relying party configured they cannot sign in, and counting them would let an
    /// account keep nothing but them. Read in `unit`, which holds the user's row lock, so
    /// concurrent removals cannot both see the other's method as left.
    ///
    /// Every removable sign-in method (passkeys, …) is counted here, in this one function.
    pub(crate) async fn sign_in_methods_left(
        &self,
        unit: &mut dyn UnitOfWork,
        user: &User,
        removing: Option<IdentityId>,
    ) -> StoreResult<usize> {
        let password = usize::from(user.password_hash.is_some());
        let identities = unit
            .user_identities(user.id)
            .await?
            .iter()
            .filter(|identity| Some(identity.id) != removing)
            .count();
        let passkeys = if self.passkeys.is_some() {
            usize::try_from(unit.passkey_count(user.id).await?).unwrap_or(usize::MAX)
        } else {
            0
        };
        Ok(password + identities + passkeys)
    }
}

/// `user`, locked, if `identity` is still linked to them. The row lock is the one an
/// unlinking takes first: a sign-in through the identity either commits its session before
/// the unlinking starts (which then revokes it) or finds the identity gone.
pub(crate) async fn linked_user(
    unit: &mut dyn UnitOfWork,
    user: UserId,
    identity: IdentityId,
) -> StoreResult<Option<User>> {
    let user = unit.lock_user(user).await?;
    let linked = unit
        .user_identities(user.id)
        .await?
        .iter()
        .any(|linked| linked.id == identity);
    Ok(linked.then_some(user))
}
