"""schemathesis hooks for scripts/api-conformance: the two raw bodies the API takes (a plugin's
WebAssembly module, a mail as RFC 5322 text) are sent as the bytes schemathesis generated."""

import schemathesis


@schemathesis.serializer("application/wasm", "message/rfc822")
def raw_bytes(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8")}
    return {"data": repr(value).encode("utf-8")}
