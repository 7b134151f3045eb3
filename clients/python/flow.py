"""A front end's life with blogd, through the client openapi-python-client generates from the
served document (package `blogd_client`, generated into a scratch directory, never committed).

Usage: python flow.py BASE_URL ADMIN_USERNAME ADMIN_PASSWORD EXCHANGES.jsonl

Every request and answer is appended to EXCHANGES.jsonl; `clients/validate.py` then checks each
one against the document. The flow itself checks what a front end relies on, with the types the
generator made (`mypy --strict` runs over this file and the package).
"""

from __future__ import annotations

import base64
import json
import sys
import time
from typing import Any, TypeVar, cast

import httpx

from blogd_client import AuthenticatedClient, Client
from blogd_client.api.auth import get_me, login, logout, refresh_tokens
from blogd_client.api.authors import get_author, list_authors
from blogd_client.api.categories import create_category, get_category, list_categories
from blogd_client.api.comments import create_comment, list_comments, moderate_comment
from blogd_client.api.health import get_health_report, get_liveness, get_readiness
from blogd_client.api.posts import create_post, delete_post, get_post, list_posts, update_post
from blogd_client.api.seo import get_feed, get_post_seo, get_robots_txt, get_sitemap
from blogd_client.api.tags import create_tag, list_tags
from blogd_client.api.users import create_user
from blogd_client.models import (
    Account,
    Category,
    Comment,
    CommentStatus,
    CreateCategory,
    CreateComment,
    CreatePost,
    CreateTag,
    CreateUser,
    ErrorBody,
    LoginRequest,
    LogoutRequest,
    MfaChallenge,
    ModerateComment,
    PaginatedCategory,
    PaginatedComment,
    PaginatedPostSummary,
    Post,
    PostMeta,
    PostOrdering,
    PostStatus,
    RefreshRequest,
    Role,
    TokenPair,
    UpdatePost,
)
from blogd_client.types import Response, Unset

T = TypeVar("T")


class FlowError(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise FlowError(what)


def expect(response: Response[Any], status: int, kind: type[T], what: str) -> T:
    """The parsed body of an answer that must have this status and type."""
    check(
        response.status_code == status,
        f"{what}: expected {status}, got {response.status_code}: {response.content[:300]!r}",
    )
    parsed = response.parsed
    check(isinstance(parsed, kind), f"{what}: expected a {kind.__name__}, got {parsed!r}")
    return cast(T, parsed)


def expect_error(response: Response[Any], status: int, code: str, what: str) -> ErrorBody:
    error = expect(response, status, ErrorBody, what)
    check(error.code == code, f"{what}: expected code {code}, got {error.code}")
    check(
        error.request_id == response.headers.get("x-request-id"),
        f"{what}: request_id equals X-Request-ID",
    )
    return error


class Recorder:
    """httpx event hook: one JSON line per exchange."""

    def __init__(self, path: str) -> None:
        self.out = open(path, "a", encoding="utf-8")

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        record: dict[str, Any] = {
            "flow": "python",
            "method": request.method,
            "url": str(request.url),
            "request_headers": dict(request.headers),
            "request_body": request.content.decode("utf-8", "replace") if request.content else None,
            "status": response.status_code,
            "headers": dict(response.headers),
        }
        content_type = response.headers.get("content-type", "")
        if content_type.startswith(("application/", "text/")):
            record["body"] = response.text
        else:
            record["body_base64"] = base64.b64encode(response.content).decode()
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()


def anonymous_as_authenticated(client: Client) -> AuthenticatedClient:
    """Operations that take a token but do not need one (`security: [{}, {bearer: []}]`) are
    typed by openapi-python-client 0.29 as needing an AuthenticatedClient (its issue #1372);
    the plain client works for them at run time."""
    return cast(AuthenticatedClient, client)


def sign_in(client: Client, username: str, password: str) -> TokenPair:
    answer = login.sync_detailed(client=client, body=LoginRequest(username=username, password=password))
    parsed = expect(answer, 200, object, f"login {username}")
    # The discriminator: `type` tells the pair from a two-factor challenge.
    check(not isinstance(parsed, MfaChallenge), "no two-factor step for this account")
    pair = cast(TokenPair, parsed)
    check(pair.type_.value == "tokens" and pair.token_type == "Bearer", "a token pair")
    return pair


def run(base: str, admin_name: str, admin_password: str, exchanges: str) -> None:
    recorder = Recorder(exchanges)
    hooks = {"event_hooks": {"response": [recorder]}}
    anon = Client(base_url=base, httpx_args=hooks, raise_on_unexpected_status=True)
    public = anonymous_as_authenticated(anon)
    # The generator leaves non-JSON answers (XML, text) unparsed: `content` has them, and a
    # client that raises on "unexpected" statuses would refuse their 200s.
    documents = Client(base_url=base, httpx_args=hooks)
    run_id = f"py{int(time.time() * 1000) % 10**8}"

    def as_user(token: str) -> AuthenticatedClient:
        return AuthenticatedClient(base_url=base, token=token, httpx_args=hooks, raise_on_unexpected_status=True)

    # Probes.
    check(expect(get_liveness.sync_detailed(client=anon), 200, object, "healthz") is not None, "healthz")
    get_readiness.sync_detailed(client=anon)
    health = get_health_report.sync_detailed(client=anon)
    check(health.status_code in (200, 503), "healthcheck")

    # Sign-in; the admin makes an editor, who does the editorial work.
    admin = as_user(sign_in(anon, admin_name, admin_password).access_token)
    editor_name = f"{run_id}-editor"
    editor_password = "flow-editor-passphrase-42"
    account = expect(
        create_user.sync_detailed(
            client=admin,
            body=CreateUser(
                username=editor_name,
                email=f"{editor_name}@example.com",
                password=editor_password,
                role=Role.EDITOR,
                display_name="Flow Editor",
            ),
        ),
        201,
        Account,
        "create editor",
    )
    check(account.role == Role.EDITOR and account.bio is None, "editor account")
    editor = as_user(sign_in(anon, editor_name, editor_password).access_token)
    me = expect(get_me.sync_detailed(client=editor), 200, Account, "me")
    check(me.username == editor_name, "me is the editor")

    # Categories and tags.
    category = expect(
        create_category.sync_detailed(
            client=editor, body=CreateCategory(name=f"Guides {run_id}", description="How-tos")
        ),
        201,
        Category,
        "create category",
    )
    expect(list_categories.sync_detailed(client=anon, per_page=100), 200, PaginatedCategory, "categories")
    first = get_category.sync_detailed(slug=category.slug, client=anon)
    expect(first, 200, Category, "category")
    etag = first.headers.get("etag")
    check(etag is not None, "a category read carries an ETag")
    again = get_category.sync_detailed(slug=category.slug, client=anon, if_none_match=cast(str, etag))
    check(again.status_code == 304, f"If-None-Match gives 304, got {again.status_code}")
    tag_name = f"rust{run_id}"
    expect(create_tag.sync_detailed(client=editor, body=CreateTag(name=tag_name)), 201, object, "create tag")
    tags = list_tags.sync_detailed(client=anon)
    check(tags.status_code == 200, "tags")

    # A published post, read anonymously with its ETag, then changed with If-Match.
    created = create_post.sync_detailed(
        client=editor,
        body=CreatePost(
            title=f"Typed clients {run_id}",
            content="# Typed clients\n\nGenerated from **the served document**.",
            excerpt=None,
            status=PostStatus.PUBLISHED,
            categories=[category.slug],
            tags=[tag_name, f"extra{run_id}"],
            meta_description="How a front end consumes blogd",
        ),
    )
    post = expect(created, 201, Post, "create post")
    check(created.headers.get("location", "").endswith(post.slug), "Location names the post")
    check(post.excerpt is None and post.published_at is not None, "required-nullable fields")
    check(post.content_html.startswith("<h1>"), "rendered HTML")
    read = get_post.sync_detailed(slug=post.slug, client=public)
    expect(read, 200, Post, "read post")
    post_etag = cast(str, read.headers.get("etag"))
    not_modified = get_post.sync_detailed(slug=post.slug, client=public, if_none_match=post_etag)
    check(not_modified.status_code == 304, "post 304")
    changed = update_post.sync_detailed(
        slug=post.slug, client=editor, body=UpdatePost(excerpt="Now with an excerpt"), if_match=post_etag
    )
    check(expect(changed, 200, Post, "update with If-Match").excerpt == "Now with an excerpt", "excerpt set")
    stale = update_post.sync_detailed(slug=post.slug, client=editor, body=UpdatePost(title="Lost"), if_match=post_etag)
    expect_error(stale, 412, "precondition_failed", "stale If-Match")

    # A second post so that lists have pages; a draft the public never sees.
    for n in (2, 3):
        expect(
            create_post.sync_detailed(
                client=editor,
                body=CreatePost(
                    title=f"More {run_id} {n}",
                    content=f"Post {n}.",
                    status=PostStatus.PUBLISHED,
                    tags=[tag_name],
                ),
            ),
            201,
            Post,
            f"post {n}",
        )
    draft = expect(
        create_post.sync_detailed(client=editor, body=CreatePost(title=f"Draft {run_id}", content="Soon.")),
        201,
        Post,
        "draft",
    )

    # Filtered, searched, ordered and paginated lists.
    by_tag = expect(
        list_posts.sync_detailed(client=public, tag=tag_name, per_page=2, ordering=PostOrdering.TITLE),
        200,
        PaginatedPostSummary,
        "by tag",
    )
    check(by_tag.pagination.total == 3 and by_tag.pagination.total_pages == 2, "tag filter counts 3")
    check(isinstance(by_tag.pagination.next_, str) and by_tag.pagination.previous is None, "next link")
    page2 = expect(
        list_posts.sync_detailed(client=public, tag=tag_name, per_page=2, page=2, ordering=PostOrdering.TITLE),
        200,
        PaginatedPostSummary,
        "page 2",
    )
    check(len(page2.results) == 1 and page2.pagination.next_ is None, "last page")
    past = expect(list_posts.sync_detailed(client=public, tag=tag_name, page=9), 200, PaginatedPostSummary, "past")
    check(past.results == [], "past the end is empty")
    by_category = expect(
        list_posts.sync_detailed(client=public, category=category.slug), 200, PaginatedPostSummary, "by category"
    )
    check([p.slug for p in by_category.results] == [post.slug], "category filter")
    by_author = expect(
        list_posts.sync_detailed(client=public, author=editor_name, ordering=PostOrdering.NEWEST_FIRST),
        200,
        PaginatedPostSummary,
        "by author",
    )
    check(draft.slug not in [p.slug for p in by_author.results], "drafts stay hidden")
    drafts = expect(
        list_posts.sync_detailed(client=editor, status=PostStatus.DRAFT), 200, PaginatedPostSummary, "drafts"
    )
    check(draft.slug in [p.slug for p in drafts.results], "the editor sees drafts")
    found = expect(
        list_posts.sync_detailed(client=public, q=f"served document {run_id}"), 200, PaginatedPostSummary, "search"
    )
    check([p.slug for p in found.results] == [post.slug], "full-text search")
    listing = list_posts.sync_detailed(client=public, tag=tag_name)
    list_etag = cast(str, listing.headers.get("etag"))
    check(list_posts.sync_detailed(client=public, tag=tag_name, if_none_match=list_etag).status_code == 304, "list 304")
    bad = list_posts.sync_detailed(client=public, per_page=1000)
    check("per_page" in (expect_error(bad, 400, "validation_error", "per_page").to_dict().get("details") or {}), "names per_page")
    expect_error(get_post.sync_detailed(slug=f"missing-{run_id}", client=public), 404, "not_found", "missing post")
    authors = list_authors.sync_detailed(client=anon)
    check(authors.status_code == 200, "authors")
    check(get_author.sync_detailed(username=editor_name, client=anon).status_code == 200, "author")

    # An anonymous comment, moderated by the editor.
    comment = expect(
        create_comment.sync_detailed(
            slug=post.slug,
            client=public,
            body=CreateComment(body="Helpful, thanks!", author_name="Reader", author_email="reader@example.com"),
        ),
        201,
        Comment,
        "anonymous comment",
    )
    check(comment.status == CommentStatus.PENDING, "new comments wait for moderation")
    public_comments = expect(
        list_comments.sync_detailed(slug=post.slug, client=public), 200, PaginatedComment, "public comments"
    )
    check(public_comments.results == [], "pending comments are not public")
    queue = expect(list_comments.sync_detailed(slug=post.slug, client=editor), 200, PaginatedComment, "queue")
    check([c.id for c in queue.results] == [comment.id], "the editor sees the pending comment")
    approved = expect(
        moderate_comment.sync_detailed(id=comment.id, client=editor, body=ModerateComment(status=CommentStatus.APPROVED)),
        200,
        Comment,
        "approve",
    )
    check(approved.status == CommentStatus.APPROVED, "approved")
    shown = expect(list_comments.sync_detailed(slug=post.slug, client=public), 200, PaginatedComment, "shown")
    check(len(shown.results) == 1, "the approved comment is public")
    check(isinstance(shown.results[0].author_email, Unset), "public comments never carry an e-mail")

    # SEO metadata, sitemap, feed and robots.txt.
    meta = expect(get_post_seo.sync_detailed(slug=post.slug, client=anon), 200, PostMeta, "seo")
    check(meta.open_graph.ogtype == "article", "og:type")
    check(sorted(meta.open_graph.articletag) == sorted([tag_name, f"extra{run_id}"]), "article:tag is a list")
    check(meta.json_ld.type_ == "BlogPosting" and "<" not in meta.json_ld_script, "JSON-LD")
    sitemap = get_sitemap.sync_detailed(client=documents)
    check(sitemap.status_code == 200 and post.slug.encode() in sitemap.content, "sitemap lists the post")
    modified = get_sitemap.sync_detailed(client=documents, if_none_match=cast(str, sitemap.headers.get("etag")))
    check(modified.status_code == 304, "sitemap 304")
    feed = get_feed.sync_detailed(client=documents, tag=tag_name)
    check(feed.status_code == 200 and b"<rss" in feed.content, "tag feed")
    robots = get_robots_txt.sync_detailed(client=documents)
    check(b"Sitemap:" in robots.content, "robots.txt")

    # Refresh rotation: the new pair works, the spent token revokes its whole session.
    pair = sign_in(anon, editor_name, editor_password)
    rotated = expect(
        refresh_tokens.sync_detailed(client=anon, body=RefreshRequest(refresh_token=pair.refresh_token)),
        200,
        TokenPair,
        "refresh",
    )
    check(rotated.refresh_token != pair.refresh_token, "a new refresh token")
    reused = refresh_tokens.sync_detailed(client=anon, body=RefreshRequest(refresh_token=pair.refresh_token))
    error = expect_error(reused, 401, "token_revoked", "reuse")
    check("refresh token" in error.error, "the message names the refresh token")
    expect_error(get_me.sync_detailed(client=as_user(rotated.access_token)), 401, "token_revoked", "family revoked")
    garbage = refresh_tokens.sync_detailed(client=anon, body=RefreshRequest(refresh_token="not-a-token"))
    check("refresh token" in expect_error(garbage, 401, "token_invalid", "garbage refresh").error, "names it")

    # Logout with the refresh token alone (as after the access token ran out).
    session = sign_in(anon, editor_name, editor_password)
    out = logout.sync_detailed(client=public, body=LogoutRequest(refresh_token=session.refresh_token))
    check(out.status_code == 204, f"logout by refresh token: {out.status_code}")
    expect_error(get_me.sync_detailed(client=as_user(session.access_token)), 401, "token_revoked", "after logout")
    after = refresh_tokens.sync_detailed(client=anon, body=RefreshRequest(refresh_token=session.refresh_token))
    expect_error(after, 401, "token_revoked", "refresh after logout")
    check(logout.sync_detailed(client=editor).status_code == 204, "logout with the access token")

    # Clean-up through the API (a delete is a write like any other).
    check(delete_post.sync_detailed(slug=draft.slug, client=admin).status_code == 204, "delete draft")

    # A real 429: sign-in attempts are limited per address (the CI server allows 10 per 5 min).
    # A new name each time: five failures for one name from one address lock that pair (423)
    # before the address's limit is reached.
    for attempt in range(20):
        answer = login.sync_detailed(
            client=anon,
            body=LoginRequest(username=f"nobody-{run_id}-{attempt}", password="wrong-password-123"),
        )
        if answer.status_code == 429:
            throttled = expect_error(answer, 429, "throttled", "throttled login")
            check(isinstance(throttled.retry_after, int), "retry_after in the body")
            check(answer.headers.get("retry-after") == str(throttled.retry_after), "Retry-After header")
            check("ratelimit-remaining" in answer.headers, "RateLimit-* headers")
            break
        expect_error(answer, 401, "invalid_credentials", f"failed login {attempt}")
    else:
        raise FlowError("sign-in was never throttled")
    print(f"python flow: ok ({run_id})")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__)
        sys.exit(2)
    try:
        run(*sys.argv[1:5])
    except FlowError as err:
        print(f"python flow FAILED: {err}")
        sys.exit(1)
