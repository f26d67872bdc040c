/**
 * This file was generated from `tenantbase permissions` by scripts/client-check --write.
 * Do not edit it by hand: the server's catalog (tenantbase-domain, access.rs) is the source.
 */

/** Every permission a role, a team or an API key may hold in an org, in catalog order. */
export const PERMISSIONS = [
  { name: "org:read", description: "See the org's name, slug and settings." },
  { name: "org:manage", description: "Rename the org and change its settings." },
  { name: "org:delete", description: "Delete the org (soft, restorable for a period) or restore it." },
  { name: "members:read", description: "List members, teams and pending invitations." },
  { name: "members:manage", description: "Invite and remove members, change their roles, manage teams." },
  { name: "owners:manage", description: "Grant or take away the owner role." },
  { name: "roles:manage", description: "Create, change and delete custom roles." },
  { name: "projects:read", description: "List, search and export projects." },
  { name: "projects:write", description: "Create, change, restore and import projects." },
  { name: "projects:delete", description: "Delete projects." },
  { name: "files:read", description: "List files, read their metadata and download them." },
  { name: "files:write", description: "Upload files, directly or through presigned URLs." },
  { name: "files:delete", description: "Delete files." },
  { name: "apikeys:manage", description: "Create, list and revoke API keys." },
  { name: "audit:read", description: "Read and verify the org's audit log." },
] as const;

/** A permission name, such as `"projects:write"`. */
export type Permission = (typeof PERMISSIONS)[number]["name"];

const NAMES: ReadonlySet<string> = new Set(PERMISSIONS.map((p) => p.name));

/** Narrows a name the server sent (e.g. in `GET /v1/orgs/{org_id}/me`) to a known permission. */
export function isPermission(name: string): name is Permission {
  return NAMES.has(name);
}
