//! The permission catalog and the built-in roles. Permissions are `resource:action`
//! names; a set of them is a bit set, so checking one on every request costs nothing.

use std::fmt;

/// Defines `Permission` with its name and description, once per entry.
macro_rules! catalog {
    ($($variant:ident = $name:literal, $description:literal;)*) => {
        /// One thing a role, a team or an API key may be allowed to do in an org.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission {
            $($variant,)*
        }

        impl Permission {
            /// Every permission, in catalog order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)*
                }
            }

            pub fn description(self) -> &'static str {
                match self {
                    $(Permission::$variant => $description,)*
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Permission::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

catalog! {
    OrgRead = "org:read", "See the org's name, slug and settings.";
    OrgManage = "org:manage", "Rename the org and change its settings.";
    OrgDelete = "org:delete", "Delete the org (soft, restorable for a period) or restore it.";
    MembersRead = "members:read", "List members, teams and pending invitations.";
    MembersManage = "members:manage", "Invite and remove members, change their roles, manage teams.";
    OwnersManage = "owners:manage", "Grant or take away the owner role.";
    RolesManage = "roles:manage", "Create, change and delete custom roles.";
    ProjectsRead = "projects:read", "List, search and export projects.";
    ProjectsWrite = "projects:write", "Create, change, restore and import projects.";
    ProjectsDelete = "projects:delete", "Delete projects.";
    FilesRead = "files:read", "List files, read their metadata and download them.";
    FilesWrite = "files:write", "Upload files, directly or through presigned URLs.";
    FilesDelete = "files:delete", "Delete files.";
    ApiKeysManage = "apikeys:manage", "Create, list and revoke API keys.";
    AuditRead = "audit:read", "Read and verify the org's audit log.";
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn all() -> Self {
        Self::from_iter(Permission::ALL.iter().copied())
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & Self::bit(permission) != 0
    }

    pub fn insert(&mut self, permission: Permission) {
        self.0 |= Self::bit(permission);
    }

    pub fn union(self, other: PermissionSet) -> Self {
        PermissionSet(self.0 | other.0)
    }

    pub fn intersection(self, other: PermissionSet) -> Self {
        PermissionSet(self.0 & other.0)
    }

    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// The names, in catalog order.
    pub fn names(self) -> Vec<String> {
        self.iter().map(|p| p.name().to_owned()).collect()
    }

    /// Parses names; the first unknown one is the error.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        names
            .into_iter()
            .map(|name| Permission::parse(name).ok_or_else(|| name.to_owned()))
            .collect()
    }

    fn bit(permission: Permission) -> u64 {
        1 << (permission as u8)
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = PermissionSet::EMPTY;
        for permission in iter {
            set.insert(permission);
        }
        set
    }
}

/// The roles every org is created with. They cannot be edited or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinRole {
    Owner,
    Admin,
    Member,
    Viewer,
    Guest,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 5] = [
        BuiltinRole::Owner,
        BuiltinRole::Admin,
        BuiltinRole::Member,
        BuiltinRole::Viewer,
        BuiltinRole::Guest,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "owner",
            BuiltinRole::Admin => "admin",
            BuiltinRole::Member => "member",
            BuiltinRole::Viewer => "viewer",
            BuiltinRole::Guest => "guest",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "Everything, including deleting the org and managing owners.",
            BuiltinRole::Admin => "Everything except deleting the org and managing owners.",
            BuiltinRole::Member => "Reads the org, creates and edits projects, uploads files.",
            BuiltinRole::Viewer => "Reads the org, its projects and its files.",
            BuiltinRole::Guest => "Reads projects and files only.",
        }
    }

    pub fn permissions(self) -> PermissionSet {
        use Permission::*;
        match self {
            BuiltinRole::Owner => PermissionSet::all(),
            BuiltinRole::Admin => PermissionSet::all()
                .iter()
                .filter(|p| !matches!(p, OrgDelete | OwnersManage))
                .collect(),
            BuiltinRole::Member => [
                OrgRead,
                MembersRead,
                ProjectsRead,
                ProjectsWrite,
                FilesRead,
                FilesWrite,
            ]
            .into_iter()
            .collect(),
            BuiltinRole::Viewer => [OrgRead, MembersRead, ProjectsRead, FilesRead]
                .into_iter()
                .collect(),
            BuiltinRole::Guest => [ProjectsRead, FilesRead].into_iter().collect(),
        }
    }

    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.name()), Some(*permission));
            assert!(!permission.description().is_empty());
        }
        assert_eq!(Permission::parse("projects:fly"), None);
        assert!(Permission::ALL.len() < 64, "the set is a u64");
    }

    #[test]
    fn sets_parse_and_compare() {
        let set = PermissionSet::parse(["projects:read", "org:read"]).expect("known");
        assert_eq!(set.names(), ["org:read", "projects:read"]);
        assert!(set.is_subset_of(PermissionSet::all()));
        assert!(!PermissionSet::all().is_subset_of(set));
        assert_eq!(
            PermissionSet::parse(["org:read", "nope"]),
            Err("nope".to_owned())
        );
    }

    #[test]
    fn builtin_roles_nest() {
        let owner = BuiltinRole::Owner.permissions();
        let admin = BuiltinRole::Admin.permissions();
        assert!(admin.is_subset_of(owner) && admin != owner);
        assert!(!admin.contains(Permission::OrgDelete));
        assert!(!admin.contains(Permission::OwnersManage));
        assert!(
            BuiltinRole::Viewer
                .permissions()
                .is_subset_of(BuiltinRole::Member.permissions())
        );
        assert_eq!(
            BuiltinRole::Guest.permissions().names(),
            ["projects:read", "files:read"]
        );
    }
}
