//! Trusted devices: after a second step with `trust_device`, the device gets a token
//! (random, stored as SHA-256, bound to its device id) that lets the first step alone
//! sign in from it until the token expires, is revoked, or the password changes.

use chrono::{SubsecRound, Utc};
use subtle::ConstantTimeEq;
use tenantbase_domain::id::TrustedDeviceId;
use tenantbase_domain::model::{RequestMeta, TrustedDevice, User};
use tenantbase_store::UnitOfWork;
use tenantbase_store::identity::mfa::NewTrustedDevice;

use crate::identity::accounts::{
    Device, Identity, chrono_duration, hash_refresh_token, new_refresh_token, user_event,
};
use crate::identity::cache::AuthStale;
use crate::identity::{IdentityError, Principal};
use crate::write::Change;

/// The most devices one account trusts at once: trusting one more ends the oldest trust.
/// Bounded, so that the list is one page and a stolen session cannot plant trusts
/// without end.
const TRUSTED_DEVICES_KEPT: usize = 20;

impl Identity {
    /// The caller's unexpired trusted devices, newest first (at most
    /// `TRUSTED_DEVICES_KEPT`).
    pub async fn trusted_devices(
        &self,
        principal: &Principal,
    ) -> Result<Vec<TrustedDevice>, IdentityError> {
        Ok(self
            .store
            .trusted_devices(principal.user_id, Utc::now())
            .await?)
    }

    /// Stops trusting one of the caller's devices.
    pub async fn revoke_trusted_device(
        &self,
        principal: &Principal,
        id: TrustedDeviceId,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let mut unit = self.write().await?;
        let user = unit.user(principal.user_id).await?;
        if !unit.delete_trusted_device(user.id, id).await? {
            return Err(IdentityError::TrustedDeviceNotFound);
        }
        let event = user_event(
            "auth.mfa.trusted_device.revoked",
            &user,
            request,
            serde_json::json!({"trusted_device_id": id.to_string()}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }

    /// Stops trusting every device of the caller's.
    pub async fn revoke_trusted_devices(
        &self,
        principal: &Principal,
        request: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let mut unit = self.write().await?;
        let user = unit.user(principal.user_id).await?;
        let revoked = unit.delete_trusted_devices(user.id).await?;
        let event = user_event(
            "auth.mfa.trusted_devices.revoked",
            &user,
            request,
            serde_json::json!({"revoked": revoked}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(())
    }

    /// Trusts `user`'s `device`, which must have sent its id; returns the device token,
    /// the only copy.
    pub(super) async fn trust_device(
        &self,
        user: &User,
        device: &Device,
        request: &RequestMeta,
    ) -> Result<String, IdentityError> {
        let device_id = device.id.clone().ok_or_else(|| {
            IdentityError::invalid(
                "trust_device",
                "needs the device's id (X-Device-Id)".to_owned(),
            )
        })?;
        let token = new_refresh_token()?;
        let id = TrustedDeviceId::new();
        let mut unit = self.write().await?;
        // Under the user's row lock, so that re-trusts of one device at once take turns:
        // each replaces the other's trust instead of missing it (read committed).
        let current = unit.lock_user(user.id).await?;
        // A password change or reset since the session opened ended that session and the
        // user's trusts: a trust earned under the old password must not outlive it. The
        // sign-in is refused as one whose `mfa_token` the change ended.
        if current.password_hash != user.password_hash {
            return Err(IdentityError::InvalidMfaToken);
        }
        let trust = NewTrustedDevice {
            id,
            user_id: user.id,
            token_hash: hash_refresh_token(&token),
            device_id,
            device_label: device.label.clone(),
            // Microseconds, as both databases keep it: the list shows what a re-read does.
            expires_at: (Utc::now() + chrono_duration(self.mfa.trusted_device_ttl))
                .trunc_subsecs(6),
        };
        unit.insert_trusted_device(trust, TRUSTED_DEVICES_KEPT)
            .await?;
        let event = user_event(
            "auth.mfa.trusted_device.added",
            user,
            request,
            serde_json::json!({"trusted_device_id": id.to_string()}),
        );
        unit.commit(Change::new(AuthStale::Nothing, event)).await?;
        Ok(token)
    }

    /// Whether `token` is an unexpired trust of `user` for this very device id.
    pub(super) async fn is_trusted(
        &self,
        unit: &mut dyn UnitOfWork,
        user: &User,
        device: &Device,
        token: &str,
    ) -> Result<bool, IdentityError> {
        let Some(trusted) = unit
            .trusted_device_by_token(&hash_refresh_token(token))
            .await?
        else {
            return Ok(false);
        };
        let same_device = device
            .id
            .as_deref()
            .is_some_and(|id| bool::from(id.as_bytes().ct_eq(trusted.device_id.as_bytes())));
        Ok(trusted.user_id == user.id && same_device && trusted.expires_at > Utc::now())
    }
}
