"""Schemathesis hooks for blogd (loaded by .ci/schemathesis.sh through SCHEMATHESIS_HOOKS).

An empty query value is no filter: the list operations read `?status=&tag=` as if neither were
given (ListParams::get in src/http/pagination.rs; what an HTML form with empty fields sends).
negative_data_rejection counts `status=` (not one of the enum's values) or `days=` (not an
integer) as invalid data the server should refuse, and the server answers 200 by design.

The same holds for an object or an array generated for a scalar parameter: it does not reach
the wire as itself. The HTTP client's form encoding sends an array as the parameter repeated
(`days=1&days=2`, of which the server reads the first, as it does for every repeated query
parameter) and an object as its keys (`{"": [..]}` becomes `days=`, `{}` nothing at all), so
the invalid value schemathesis meant is never sent. Those cases are left out; every invalid
scalar is still sent and must be refused.
"""
import schemathesis


def sent_as_generated(value):
    """Whether a generated query value reaches the server as itself."""
    if value is None or value == "":
        return False
    return not isinstance(value, (list, tuple, dict))


@schemathesis.hook
def filter_query(ctx, query):
    return not query or all(sent_as_generated(value) for value in query.values())
