"""schemathesis hooks for scripts/openapi-check."""
import os

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


# DELETE /v1/senders/{id} must not delete the sender that the other operations' examples
# name (scripts/openapi-check registers it), whatever order the operations run in and
# whichever ids schemathesis learns from earlier answers: aimed at it, the call goes to the
# stand-in the script registered for deletion instead (204 once, then 404).
PROTECTED_SENDER = os.environ.get("OPENAPI_CHECK_SENDER", "106540352242922")
DELETE_STAND_IN = os.environ.get("OPENAPI_CHECK_DELETE_SENDER", "106540352240000")


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if case.operation.method.upper() != "DELETE" or case.operation.path != "/v1/senders/{phone_number_id}":
        return
    if case.path_parameters and str(case.path_parameters.get("phone_number_id")) == PROTECTED_SENDER:
        case.path_parameters["phone_number_id"] = DELETE_STAND_IN
