"""Schemathesis hooks for blogd (loaded by .ci/schemathesis.sh through SCHEMATHESIS_HOOKS).

An empty query value is no filter: the list operations read `?status=&tag=` as if neither were
given (ListParams::get in src/http/pagination.rs; what an HTML form with empty fields sends).
negative_data_rejection counts `status=` (not one of the enum's values) or `days=` (not an
integer) as invalid data the server should refuse, and the server answers 200 by design. Cases
with an empty query value are left out; every other invalid value is still sent and must be
refused.
"""
import schemathesis


@schemathesis.hook
def filter_query(ctx, query):
    return not query or all(value != "" for value in query.values())
