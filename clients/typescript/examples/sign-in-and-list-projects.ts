/**
 * Signs in (registering the account first when it does not exist yet), creates an org and
 * a project in it, and lists the org's projects: the README's tour, typed end to end.
 *
 *   TENANTBASE_URL=http://127.0.0.1:8080 TENANTBASE_EMAIL=ada@example.com \
 *   TENANTBASE_PASSWORD='correct horse battery staple' node dist/examples/sign-in-and-list-projects.js
 *
 * Prints one line per step; exits 1 with the server's problem (status, code, detail) when
 * a step fails.
 */
import {
  ProblemError,
  createTenantbaseClient,
  expectData,
  isPermission,
  type Permission,
} from "../src/index.js";

const baseUrl = process.env.TENANTBASE_URL ?? "http://127.0.0.1:8080";
const email = process.env.TENANTBASE_EMAIL ?? "ada@example.com";
const password = process.env.TENANTBASE_PASSWORD ?? "correct horse battery staple";

let accessToken: string | undefined;
const api = createTenantbaseClient({ baseUrl, token: () => accessToken });

async function signIn(): Promise<void> {
  const registered = await api.POST("/v1/auth/register", { body: { email, password } });
  if (registered.data) {
    accessToken = registered.data.access_token;
    console.log(`registered ${registered.data.user.id}`);
    return;
  }
  if (registered.error.code !== "email_taken") {
    throw new ProblemError(registered.error, registered.response.status);
  }
  const login = await expectData(api.POST("/v1/auth/login", { body: { email, password } }));
  // An account with a second factor answers with a challenge instead of tokens; this
  // example does not walk that step (see POST /v1/auth/mfa/verify).
  if (!("access_token" in login)) {
    throw new Error(`${email} needs a second factor (${login.methods.join(", ")})`);
  }
  accessToken = login.access_token;
  console.log(`signed in ${login.user.id}`);
}

async function main(): Promise<void> {
  await signIn();

  const org = await expectData(api.POST("/v1/orgs", { body: { name: "Acme" } }));
  console.log(`org ${org.id} ${org.slug}`);

  const org_id = org.id;
  const access = await expectData(api.GET("/v1/orgs/{org_id}/me", { params: { path: { org_id } } }));
  const needed: Permission = "projects:write";
  if (!access.permissions.filter(isPermission).includes(needed)) {
    throw new Error(`${needed} is missing from ${access.permissions.join(", ")}`);
  }

  const project = await expectData(
    api.POST("/v1/orgs/{org_id}/projects", {
      params: { path: { org_id } },
      body: { name: "Launch", metadata: { tier: 1 } },
    }),
  );
  console.log(`project ${project.id} ${project.name}`);

  const page = await expectData(
    api.GET("/v1/orgs/{org_id}/projects", {
      params: { path: { org_id }, query: { q: "laun", limit: 50 } },
    }),
  );
  for (const listed of page.items) {
    console.log(`listed ${listed.id} ${listed.name}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
