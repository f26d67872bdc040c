//! The local store's presigned URLs: `/v1/blobs/{token}`, where the token is an
//! HMAC-SHA256-signed, expiring grant of one method on one file. A grant is re-checked at
//! use: its signer — a user, or an API key — must still hold the permission in the org.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tenantbase_domain::id::{ApiKeyId, FileId, UserId};
use tenantbase_domain::model::{Actor, RequestMeta, StoredFile};
use tenantbase_domain::{OrgId, Permission};

use super::ingest::{Budget, ingest};
use super::{FileRefusal, staging_key};
use crate::tenancy::access::OrgAccess;
use crate::tenancy::{Tenancy, TenancyError};

/// The method a local URL grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantMethod {
    Get,
    Put,
}

impl GrantMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantMethod::Get => "GET",
            GrantMethod::Put => "PUT",
        }
    }
}

/// A verified `/v1/blobs/{token}`.
#[derive(Debug, Clone)]
pub struct BlobGrant {
    pub method: GrantMethod,
    org: OrgId,
    file: FileId,
    signer: Signer,
    expires_at: i64,
}

/// Who signed a local URL: a user, or an API key — whose own access is re-checked at
/// use, so revoking the key kills its URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signer {
    User(UserId),
    Key(ApiKeyId),
}

impl Signer {
    pub(super) fn of(access: &OrgAccess) -> Self {
        if let Actor::ApiKey(id) = access.actor()
            && let Ok(key) = id.parse()
        {
            return Signer::Key(key);
        }
        Signer::User(access.accountable_user())
    }

    /// Typed ids (`usr_…`, `key_…`) tell the two apart.
    fn parse(text: &str) -> Option<Self> {
        text.parse()
            .map(Signer::User)
            .or_else(|_| text.parse().map(Signer::Key))
            .ok()
    }
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::User(id) => id.fmt(f),
            Signer::Key(id) => id.fmt(f),
        }
    }
}

/// Why a `/v1/blobs/{token}` is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefusal {
    /// Malformed or not signed by us.
    Invalid,
    Expired,
    /// Signed for the other method.
    WrongMethod(GrantMethod),
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8; 32]) -> HmacSha256 {
    // HMAC takes keys of any length; a 32-byte one cannot fail.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key"))
}

impl Tenancy {
    pub(super) fn sign_grant(
        &self,
        method: GrantMethod,
        org: OrgId,
        file: FileId,
        signer: Signer,
        expires_at: DateTime<Utc>,
    ) -> String {
        let claims = format!(
            "{}.{org}.{file}.{signer}.{}",
            method.as_str(),
            expires_at.timestamp()
        );
        let mut mac = mac(&self.policy.files.url_key);
        mac.update(claims.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(claims),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks a local URL's token: signature (in constant time), expiry, then method.
    pub fn verify_grant(
        &self,
        token: &str,
        method: GrantMethod,
    ) -> Result<BlobGrant, GrantRefusal> {
        let (claims, tag) = token.split_once('.').ok_or(GrantRefusal::Invalid)?;
        let claims = URL_SAFE_NO_PAD
            .decode(claims)
            .map_err(|_| GrantRefusal::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| GrantRefusal::Invalid)?;
        let mut mac = mac(&self.policy.files.url_key);
        mac.update(&claims);
        mac.verify_slice(&tag).map_err(|_| GrantRefusal::Invalid)?;
        let claims = String::from_utf8(claims).map_err(|_| GrantRefusal::Invalid)?;
        let parts: Vec<&str> = claims.split('.').collect();
        let [granted, org, file, signer, expires_at] = parts.as_slice() else {
            return Err(GrantRefusal::Invalid);
        };
        let granted = match *granted {
            "GET" => GrantMethod::Get,
            "PUT" => GrantMethod::Put,
            _ => return Err(GrantRefusal::Invalid),
        };
        let grant = BlobGrant {
            method: granted,
            org: org.parse().map_err(|_| GrantRefusal::Invalid)?,
            file: file.parse().map_err(|_| GrantRefusal::Invalid)?,
            signer: Signer::parse(signer).ok_or(GrantRefusal::Invalid)?,
            expires_at: expires_at.parse().map_err(|_| GrantRefusal::Invalid)?,
        };
        if grant.expires_at <= Utc::now().timestamp() {
            return Err(GrantRefusal::Expired);
        }
        if granted != method {
            return Err(GrantRefusal::WrongMethod(granted));
        }
        Ok(grant)
    }

    /// The signer's access now: a URL is worth no more than what its signer still holds.
    async fn grant_access(
        &self,
        grant: &BlobGrant,
        permission: Permission,
    ) -> Result<OrgAccess, TenancyError> {
        let access = match grant.signer {
            Signer::User(user) => self.member_access(user, grant.org, false).await?,
            Signer::Key(key) => self.key_access(key, grant.org).await?,
        };
        access
            .require(permission)
            .map_err(|_| TenancyError::NotFound)?;
        Ok(access)
    }

    /// `PUT /v1/blobs/{token}`: the body lands on the staging key and the upload completes
    /// at once.
    pub async fn put_granted<S, E>(
        &self,
        grant: &BlobGrant,
        body: S,
        request: &RequestMeta,
    ) -> Result<StoredFile, TenancyError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let access = self.grant_access(grant, Permission::FilesWrite).await?;
        let upload = self.open_upload(&access, grant.file).await?;
        let budget = Budget {
            bytes: upload.size,
            over: FileRefusal::TooLarge {
                max_bytes: upload.size,
            },
        };
        let staging = staging_key(grant.org, grant.file);
        let stored = ingest(&self.blob, &staging, &upload.content_type, budget, body).await?;
        // Wrong bytes leave the upload open for another PUT.
        if stored.size != upload.size {
            return Err(TenancyError::invalid(
                "size",
                format!(
                    "{} bytes were announced, {} arrived",
                    upload.size, stored.size
                ),
            ));
        }
        if upload.sha256.as_ref().is_some_and(|h| *h != stored.sha256) {
            return Err(TenancyError::invalid(
                "sha256",
                "the bytes that arrived have another SHA-256",
            ));
        }
        self.complete_upload(&access, upload.id, request).await
    }

    /// `GET /v1/blobs/{token}`: the access to read the granted file with, if its signer
    /// may still read files (else 404, as if the file were gone).
    pub async fn granted_read(
        &self,
        grant: &BlobGrant,
    ) -> Result<(OrgAccess, FileId), TenancyError> {
        let access = self.grant_access(grant, Permission::FilesRead).await?;
        Ok((access, grant.file))
    }
}
