//! The product branding every template shows: name, logo, colour and support address.

use serde::{Deserialize, Serialize};

/// Product branding used by every template (per-portal later).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branding {
    /// Shown in subjects, headings and footers.
    pub product_name: String,
    /// An `https://` or `http://` image shown above the message.
    pub logo_url: Option<String>,
    /// `#rgb` or `#rrggbb`; the colour of headings' accent and buttons.
    pub primary_color: String,
    /// Shown in the footer as the address to write to for help.
    pub support_email: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: "tenantbase".to_owned(),
            logo_url: None,
            primary_color: "#2f6feb".to_owned(),
            support_email: None,
        }
    }
}
