#!/usr/bin/env python3
"""Seeds a running blogd through its API: N published posts of ~2 KB Markdown, each in one of
10 categories with 2 of 20 tags. Prints the slug of a post in the middle, a category and a tag
that share posts, and a word to search for, as shell assignments.

Usage: seed.py BASE_URL ADMIN_USER ADMIN_PASSWORD [N]"""
import json
import random
import sys
import urllib.request

base, user, password = sys.argv[1:4]
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
random.seed(7)


def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")


token = call("POST", "/api/v1/auth/login", {"username": user, "password": password})["access_token"]
categories = [call("POST", "/api/v1/categories", {"name": f"Category {i}"}, token)["slug"] for i in range(10)]
tags = [f"tag-{i}" for i in range(20)]
words = ("rust sqlite server blog cache latency throughput index query page post author reader "
         "editor markdown render sanitize header token session backup restore metric").split()
slugs = []
for i in range(count):
    paragraphs = []
    while sum(len(p) for p in paragraphs) < 2000:
        sentence = " ".join(random.choice(words) for _ in range(12))
        paragraphs.append(f"{sentence.capitalize()}. *{random.choice(words)}* and **{random.choice(words)}**.")
    content = f"# Post {i}\n\n" + "\n\n".join(paragraphs) + "\n\n- one\n- two\n\n`code`\n"
    post = call("POST", "/api/v1/posts", {
        "title": f"Benchmark post {i} about {random.choice(words)}",
        "content": content,
        "excerpt": "A post made for benchmarks.",
        "status": "published",
        "categories": [categories[i % 10]],
        "tags": [tags[i % 20], tags[(i * 7 + 3) % 20]],
    }, token)
    slugs.append(post["slug"])
print(f"VIEW_SLUG='{slugs[len(slugs) // 2]}'")
print(f"FILTER_CATEGORY='{categories[3]}'")
print(f"FILTER_TAG='{tags[3]}'")
print("SEARCH_WORD='latency'")
