// Writes src/generated/permissions.ts from `tenantbase permissions` (a JSON array of
// {name, description}), read from the file named by the first argument, to stdout.
// Plain JavaScript so that generating needs nothing but node; scripts/client-check runs it.
import { readFileSync } from "node:fs";

const [input] = process.argv.slice(2);
if (!input) {
  console.error("usage: node scripts/permissions.mjs PERMISSIONS.json");
  process.exit(2);
}
const catalog = JSON.parse(readFileSync(input, "utf8"));
if (!Array.isArray(catalog) || catalog.length === 0) {
  console.error(`${input}: expected a non-empty JSON array of {name, description}`);
  process.exit(1);
}
const entries = catalog.map(({ name, description }) => {
  if (typeof name !== "string" || typeof description !== "string") {
    console.error(`${input}: every entry needs a string name and description`);
    process.exit(1);
  }
  return `  { name: ${JSON.stringify(name)}, description: ${JSON.stringify(description)} },`;
});

process.stdout.write(`/**
 * This file was generated from \`tenantbase permissions\` by scripts/client-check --write.
 * Do not edit it by hand: the server's catalog (tenantbase-domain, access.rs) is the source.
 */

/** Every permission a role, a team or an API key may hold in an org, in catalog order. */
export const PERMISSIONS = [
${entries.join("\n")}
] as const;

/** A permission name, such as \`"projects:write"\`. */
export type Permission = (typeof PERMISSIONS)[number]["name"];

const NAMES: ReadonlySet<string> = new Set(PERMISSIONS.map((p) => p.name));

/** Narrows a name the server sent (e.g. in \`GET /v1/orgs/{org_id}/me\`) to a known permission. */
export function isPermission(name: string): name is Permission {
  return NAMES.has(name);
}
`);
