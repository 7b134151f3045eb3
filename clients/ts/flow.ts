// A front end's life with blogd, through the types openapi-typescript generates from the
// served document (`generated/schema.d.ts`, never committed) and openapi-fetch.
//
// Usage: tsx flow.ts BASE_URL ADMIN_USERNAME ADMIN_PASSWORD EXCHANGES.jsonl
//
// `tsc --strict` checks this file against the generated types; running it checks the server's
// behaviour a front end relies on; every request and answer is appended to EXCHANGES.jsonl,
// which `clients/validate.py` checks against the document.

import { createHmac } from "node:crypto";
import { appendFileSync } from "node:fs";
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/schema";

type Schemas = components["schemas"];
type TokenPair = Schemas["TokenPair"];
type ErrorBody = Schemas["ErrorBody"];

class FlowError extends Error {}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new FlowError(what);
}

/** The data of an answer that must have this status. */
function expect<T>(
  result: { data?: T; error?: unknown; response: Response },
  status: number,
  what: string,
): T {
  check(
    result.response.status === status,
    `${what}: expected ${status}, got ${result.response.status}: ${JSON.stringify(result.error ?? null)}`,
  );
  check(result.data !== undefined, `${what}: no body`);
  return result.data;
}

/** The error body of an answer that must have this status and code. */
function expectError(
  result: { error?: ErrorBody | unknown; response: Response },
  status: number,
  code: string,
  what: string,
): ErrorBody {
  check(result.response.status === status, `${what}: expected ${status}, got ${result.response.status}`);
  const error = result.error as ErrorBody;
  check(error.code === code, `${what}: expected code ${code}, got ${error.code}`);
  check(
    error.request_id === result.response.headers.get("x-request-id"),
    `${what}: request_id equals X-Request-ID`,
  );
  return error;
}

/** Records every exchange as one JSON line. */
function recorder(path: string): Middleware {
  const bodies = new Map<string, string | null>();
  return {
    async onRequest({ id, request }) {
      bodies.set(id, request.body ? await request.clone().text() : null);
      return undefined;
    },
    async onResponse({ id, request, response }) {
      const contentType = response.headers.get("content-type") ?? "";
      const raw = Buffer.from(await response.clone().arrayBuffer());
      const textual = contentType.startsWith("application/") || contentType.startsWith("text/");
      const record = {
        flow: "typescript",
        method: request.method,
        url: request.url,
        request_headers: Object.fromEntries(request.headers.entries()),
        request_body: bodies.get(id) ?? null,
        status: response.status,
        headers: Object.fromEntries(response.headers.entries()),
        ...(textual ? { body: raw.toString("utf8") } : { body_base64: raw.toString("base64") }),
      };
      bodies.delete(id);
      appendFileSync(path, JSON.stringify(record) + "\n");
      return undefined;
    },
  };
}

async function main(base: string, adminName: string, adminPassword: string, exchanges: string) {
  const record = recorder(exchanges);
  const clientFor = (token?: string): Client<paths> => {
    const client = createClient<paths>({
      baseUrl: base,
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    client.use(record);
    return client;
  };
  const anon = clientFor();
  const runId = `ts${Date.now() % 100_000_000}`;

  async function signIn(username: string, password: string): Promise<TokenPair> {
    const answer = expect(
      await anon.POST("/api/v1/auth/login", { body: { username, password } }),
      200,
      `login ${username}`,
    );
    // The discriminator narrows the union: no cast.
    if (answer.type === "mfa_challenge") throw new FlowError("no two-factor step for this account");
    check(answer.token_type === "Bearer", "a bearer token pair");
    return answer;
  }

  // Probes.
  expect(await anon.GET("/healthz"), 200, "healthz");
  await anon.GET("/readyz");
  const health = await anon.GET("/api/healthcheck");
  check(health.response.status === 200 || health.response.status === 503, "healthcheck");
  if (health.data) check(typeof health.data.checks.uptime.seconds === "number", "typed health checks");

  // Sign-in; the admin makes an editor, who does the editorial work.
  const admin = clientFor((await signIn(adminName, adminPassword)).access_token);
  const editorName = `${runId}-editor`;
  const editorPassword = "flow-editor-passphrase-42";
  const account = expect(
    await admin.POST("/api/v1/users", {
      body: {
        username: editorName,
        email: `${editorName}@example.com`,
        password: editorPassword,
        role: "editor",
      },
    }),
    201,
    "create editor",
  );
  check(account.role === "editor" && account.bio === null, "editor account, bio null not missing");
  const editor = clientFor((await signIn(editorName, editorPassword)).access_token);
  check(expect(await editor.GET("/api/v1/auth/me"), 200, "me").username === editorName, "me");

  // Categories and tags, with ETag / If-None-Match.
  const category = expect(
    await editor.POST("/api/v1/categories", { body: { name: `Guides ${runId}`, description: "How-tos" } }),
    201,
    "create category",
  );
  expect(await anon.GET("/api/v1/categories", { params: { query: { per_page: 100 } } }), 200, "categories");
  const first = await anon.GET("/api/v1/categories/{slug}", { params: { path: { slug: category.slug } } });
  expect(first, 200, "category");
  const categoryEtag = first.response.headers.get("etag");
  check(categoryEtag !== null, "a category read carries an ETag");
  const cached = await anon.GET("/api/v1/categories/{slug}", {
    params: { path: { slug: category.slug }, header: { "If-None-Match": categoryEtag } },
  });
  check(cached.response.status === 304, `If-None-Match gives 304, got ${cached.response.status}`);
  const tagName = `rust${runId}`;
  expect(await editor.POST("/api/v1/tags", { body: { name: tagName } }), 201, "create tag");
  expect(await anon.GET("/api/v1/tags"), 200, "tags");

  // A published post, read anonymously with its ETag, then changed with If-Match.
  const created = await editor.POST("/api/v1/posts", {
    body: {
      title: `Typed clients ${runId}`,
      content: "# Typed clients\n\nGenerated from **the served document**.",
      status: "published",
      categories: [category.slug],
      tags: [tagName, `extra${runId}`],
      meta_description: "How a front end consumes blogd",
    },
  });
  const post = expect(created, 201, "create post");
  check(created.response.headers.get("location")?.endsWith(post.slug) === true, "Location names the post");
  // Always present, possibly null: `string | null`, never undefined.
  const excerpt: string | null = post.excerpt;
  check(excerpt === null && post.published_at !== null, "required-nullable fields");
  const read = await anon.GET("/api/v1/posts/{slug}", { params: { path: { slug: post.slug } } });
  expect(read, 200, "read post");
  const postEtag = read.response.headers.get("etag") ?? "";
  const notModified = await anon.GET("/api/v1/posts/{slug}", {
    params: { path: { slug: post.slug }, header: { "If-None-Match": postEtag } },
  });
  check(notModified.response.status === 304, "post 304");
  const changed = expect(
    await editor.PATCH("/api/v1/posts/{slug}", {
      params: { path: { slug: post.slug }, header: { "If-Match": postEtag } },
      body: { excerpt: "Now with an excerpt" },
    }),
    200,
    "update with If-Match",
  );
  check(changed.excerpt === "Now with an excerpt", "excerpt set");
  expectError(
    await editor.PATCH("/api/v1/posts/{slug}", {
      params: { path: { slug: post.slug }, header: { "If-Match": postEtag } },
      body: { title: "Lost update" },
    }),
    412,
    "precondition_failed",
    "stale If-Match",
  );
  for (const n of [2, 3]) {
    expect(
      await editor.POST("/api/v1/posts", {
        body: { title: `More ${runId} ${n}`, content: `Post ${n}.`, status: "published", tags: [tagName] },
      }),
      201,
      `post ${n}`,
    );
  }
  const draft = expect(
    await editor.POST("/api/v1/posts", { body: { title: `Draft ${runId}`, content: "Soon." } }),
    201,
    "draft",
  );
  check(draft.status === "draft", "drafts by default");

  // Filtered, searched, ordered and paginated lists.
  const byTag = expect(
    await anon.GET("/api/v1/posts", { params: { query: { tag: tagName, per_page: 2, ordering: "title" } } }),
    200,
    "by tag",
  );
  check(byTag.pagination.total === 3 && byTag.pagination.total_pages === 2, "tag filter counts 3");
  const next: string | null = byTag.pagination.next;
  check(next !== null && byTag.pagination.previous === null, "a next link, no previous");
  const page2 = expect(
    await anon.GET("/api/v1/posts", {
      params: { query: { tag: tagName, per_page: 2, page: 2, ordering: "title" } },
    }),
    200,
    "page 2",
  );
  check(page2.results.length === 1 && page2.pagination.next === null, "last page");
  const byCategory = expect(
    await anon.GET("/api/v1/posts", { params: { query: { category: category.slug } } }),
    200,
    "by category",
  );
  check(byCategory.results.map((p) => p.slug).join() === post.slug, "category filter");
  const byAuthor = expect(
    await anon.GET("/api/v1/posts", { params: { query: { author: editorName, ordering: "-updated_at" } } }),
    200,
    "by author",
  );
  check(!byAuthor.results.some((p) => p.slug === draft.slug), "drafts stay hidden");
  const drafts = expect(
    await editor.GET("/api/v1/posts", { params: { query: { status: "draft" } } }),
    200,
    "drafts",
  );
  check(drafts.results.some((p) => p.slug === draft.slug), "the editor sees drafts");
  const found = expect(
    await anon.GET("/api/v1/posts", { params: { query: { q: `served document ${runId}` } } }),
    200,
    "search",
  );
  check(found.results.length === 1 && found.results[0].slug === post.slug, "full-text search");
  const listing = await anon.GET("/api/v1/posts", { params: { query: { tag: tagName } } });
  const listEtag = listing.response.headers.get("etag") ?? "";
  const listAgain = await anon.GET("/api/v1/posts", {
    params: { query: { tag: tagName }, header: { "If-None-Match": listEtag } },
  });
  check(listAgain.response.status === 304, "list 304");
  const tooMany = expectError(
    await anon.GET("/api/v1/posts", { params: { query: { per_page: 1000 } } }),
    400,
    "validation_error",
    "per_page",
  );
  // details is the per-field map here (the other shape names a replica's primary).
  const details = tooMany.details;
  check(details != null && "per_page" in details, "the error names per_page");
  expectError(
    await anon.GET("/api/v1/posts/{slug}", { params: { path: { slug: `missing-${runId}` } } }),
    404,
    "not_found",
    "missing post",
  );
  expect(await anon.GET("/api/v1/authors"), 200, "authors");
  expect(await anon.GET("/api/v1/authors/{username}", { params: { path: { username: editorName } } }), 200, "author");

  // An anonymous comment, moderated by the editor.
  const comment = expect(
    await anon.POST("/api/v1/posts/{slug}/comments", {
      params: { path: { slug: post.slug } },
      body: { body: "Helpful, thanks!", author_name: "Reader", author_email: "reader@example.com" },
    }),
    201,
    "anonymous comment",
  );
  check(comment.status === "pending", "new comments wait for moderation");
  const publicComments = expect(
    await anon.GET("/api/v1/posts/{slug}/comments", { params: { path: { slug: post.slug } } }),
    200,
    "public comments",
  );
  check(publicComments.results.length === 0, "pending comments are not public");
  const approved = expect(
    await editor.PATCH("/api/v1/comments/{id}", {
      params: { path: { id: comment.id } },
      body: { status: "approved" },
    }),
    200,
    "approve",
  );
  check(approved.status === "approved", "approved");
  const shown = expect(
    await anon.GET("/api/v1/posts/{slug}/comments", { params: { path: { slug: post.slug } } }),
    200,
    "shown",
  );
  check(shown.results.length === 1 && shown.results[0].author_email === undefined, "no e-mail in public");

  // SEO metadata, sitemap, feed and robots.txt.
  const meta = expect(
    await anon.GET("/api/v1/seo/posts/{slug}", { params: { path: { slug: post.slug } } }),
    200,
    "seo",
  );
  const articleTags: string[] = meta.open_graph["article:tag"];
  check(articleTags.length === 2 && meta.open_graph["og:type"] === "article", "open graph");
  check(meta.twitter.card === "summary" && meta.json_ld["@type"] === "BlogPosting", "twitter, JSON-LD");
  check(!meta.json_ld_script.includes("<"), "script-safe JSON-LD");
  const sitemap = await anon.GET("/sitemap.xml", { parseAs: "text" });
  check(sitemap.response.status === 200 && (sitemap.data ?? "").includes(post.slug), "sitemap lists the post");
  const sitemapAgain = await anon.GET("/sitemap.xml", {
    parseAs: "text",
    params: { header: { "If-None-Match": sitemap.response.headers.get("etag") ?? "" } },
  });
  check(sitemapAgain.response.status === 304, "sitemap 304");
  const feed = await anon.GET("/feed.xml", { parseAs: "text", params: { query: { category: category.slug } } });
  check(feed.response.status === 200 && (feed.data ?? "").includes("<rss"), "category feed");
  const robots = await anon.GET("/robots.txt", { parseAs: "text" });
  check((robots.data ?? "").includes("Sitemap:"), "robots.txt");

  // The rest of what a site's admin screens use.
  const sessions = expect(await editor.GET("/api/v1/auth/sessions"), 200, "sessions");
  check(sessions.results.some((s) => s.current), "the current session is marked");
  const profile = expect(
    await editor.PATCH("/api/v1/auth/me", { body: { bio: "Writes the guides.", avatar_url: null } }),
    200,
    "update me",
  );
  check(profile.bio === "Writes the guides." && profile.avatar_url === null, "profile");
  expect(await admin.GET("/api/v1/users", { params: { query: { per_page: 5 } } }), 200, "users");
  expect(await admin.GET("/api/v1/users/{username}", { params: { path: { username: editorName } } }), 200, "user");
  expect(
    await admin.PATCH("/api/v1/users/{username}", {
      params: { path: { username: editorName } },
      body: { display_name: "Flow Editor" },
    }),
    200,
    "update user",
  );
  const audit = expect(await admin.GET("/api/v1/audit"), 200, "audit");
  check(audit.results.some((a) => a.action === "post.create"), "audited");
  expect(await anon.GET("/api/v1/tags/{slug}", { params: { path: { slug: tagName } } }), 200, "tag");
  expect(
    await editor.PATCH("/api/v1/categories/{slug}", {
      params: { path: { slug: category.slug } },
      body: { description: null },
    }),
    200,
    "update category",
  );
  expect(await editor.GET("/api/v1/comments/{id}", { params: { path: { id: comment.id } } }), 200, "comment");
  expectError(
    await anon.POST("/api/v1/auth/register", {
      body: { username: `${runId}-reader`, email: `${runId}@example.com`, password: "a-long-reader-passphrase" },
    }),
    403,
    "registration_closed",
    "registration is closed by default",
  );
  const secret = process.env.BLOGD_ANALYTICS_SECRET;
  if (secret) {
    const view = JSON.stringify({ path: `/blog/${post.slug}`, referrer: "https://news.example/item" });
    const signature = `sha256=${createHmac("sha256", secret).update(view).digest("hex")}`;
    const beacon = await fetch(`${base}/api/v1/analytics/pageview`, {
      method: "POST",
      headers: { "content-type": "text/plain;charset=UTF-8", "x-signature": signature },
      body: view,
    });
    // Outside openapi-fetch (a beacon's forwarder): record it by hand.
    appendFileSync(
      exchanges,
      JSON.stringify({
        flow: "typescript",
        method: "POST",
        url: `${base}/api/v1/analytics/pageview`,
        request_headers: { "content-type": "text/plain;charset=UTF-8", "x-signature": signature },
        request_body: view,
        status: beacon.status,
        headers: Object.fromEntries(beacon.headers.entries()),
        body: await beacon.text(),
      }) + "\n",
    );
    check(beacon.status === 202, `signed text/plain page view: ${beacon.status}`);
    const typed = await anon.POST("/api/v1/analytics/pageview", {
      params: { header: { "X-Signature": "sha256=00" } },
      body: { path: "/blog/x" },
    });
    expectError(typed, 403, "invalid_signature", "unsigned page view");
  }
  const summary = expect(await editor.GET("/api/v1/analytics/summary", { params: { query: { days: 7 } } }), 200, "summary");
  check(summary.days === 7, "analytics summary");
  const metrics = await anon.GET("/metrics", { parseAs: "text" });
  check(metrics.response.status === 200 && (metrics.data ?? "").includes("# TYPE"), "metrics from loopback");
  const swagger = await anon.GET("/api/docs/", { parseAs: "text" });
  check((swagger.data ?? "").includes("swagger"), "Swagger UI");

  // Refresh rotation: the new pair works, the spent token revokes its whole session.
  const pair = await signIn(editorName, editorPassword);
  const rotated = expect(
    await anon.POST("/api/v1/auth/refresh", { body: { refresh_token: pair.refresh_token } }),
    200,
    "refresh",
  );
  check(rotated.type === "tokens" && rotated.refresh_token !== pair.refresh_token, "rotated");
  const reuse = expectError(
    await anon.POST("/api/v1/auth/refresh", { body: { refresh_token: pair.refresh_token } }),
    401,
    "token_revoked",
    "reuse",
  );
  check(reuse.error.includes("refresh token"), "the message names the refresh token");
  expectError(await clientFor(rotated.access_token).GET("/api/v1/auth/me"), 401, "token_revoked", "family revoked");

  // Logout with the refresh token alone (as after the access token ran out).
  const session = await signIn(editorName, editorPassword);
  const out = await anon.POST("/api/v1/auth/logout", { body: { refresh_token: session.refresh_token } });
  check(out.response.status === 204, `logout by refresh token: ${out.response.status}`);
  expectError(await clientFor(session.access_token).GET("/api/v1/auth/me"), 401, "token_revoked", "after logout");
  check((await editor.POST("/api/v1/auth/logout", {})).response.status === 204, "logout with the access token");

  expect(await anon.GET("/api/schema"), 200, "the document");

  check(
    (await admin.DELETE("/api/v1/posts/{slug}", { params: { path: { slug: draft.slug } } })).response.status === 204,
    "delete the draft",
  );

  // Being throttled: a sign-in storm from one address gets 429 with Retry-After. A new name
  // each time: five failures for one name from one address lock that pair (423) first.
  for (let attempt = 0; ; attempt++) {
    check(attempt < 20, "sign-in was never throttled");
    const answer = await anon.POST("/api/v1/auth/login", {
      body: { username: `nobody-${runId}-${attempt}`, password: "wrong-password-123" },
    });
    if (answer.response.status !== 429) {
      expectError(answer, 401, "invalid_credentials", `failed login ${attempt}`);
      continue;
    }
    const throttled = expectError(answer, 429, "throttled", "throttled login");
    const wait = Number(answer.response.headers.get("retry-after"));
    check(wait === throttled.retry_after && wait > 0, "Retry-After equals retry_after");
    break;
  }
  console.log(`typescript flow: ok (${runId})`);
}

const [base, adminName, adminPassword, exchanges] = process.argv.slice(2);
if (!base || !adminName || !adminPassword || !exchanges) {
  console.error("usage: tsx flow.ts BASE_URL ADMIN_USERNAME ADMIN_PASSWORD EXCHANGES.jsonl");
  process.exit(2);
}
main(base, adminName, adminPassword, exchanges).catch((err: unknown) => {
  console.error(`typescript flow FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
