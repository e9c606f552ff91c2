"""schemathesis hooks for scripts/openapi-check."""
import schemathesis
from hypothesis.internal import lambda_sources

# Hypothesis names a lambda in a strategy's repr by parsing its whole source file; deep in
# schemathesis's generators CPython 3.11 fails that parse with "SystemError: AST
# constructor recursion depth mismatch" and the operation errors out. A lambda without a
# name is all that is lost, so fall back to Hypothesis's own "<unknown>" description.
_describe = lambda_sources._lambda_description


def _describe_or_unknown(f):
    try:
        return _describe(f)
    except (SystemError, RecursionError):
        return "lambda: <unknown>"


lambda_sources._lambda_description = _describe_or_unknown


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    # The document's NDJSON body is text; anything else is a negative case, sent as text too.
    text = value if isinstance(value, str) else str(value)
    return text.encode("utf-8", "surrogatepass")
