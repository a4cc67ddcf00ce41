"""The shared base of every OpenAI wire object."""

from __future__ import annotations

import msgspec

__all__ = ["WireBase"]


class WireBase(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Base of OpenAI and provider wire objects.

    Defaults are omitted when encoding, so an unset optional field is not sent as ``null``. Unknown fields are
    ignored when decoding into a Struct; the server keeps the client's raw JSON next to the Struct so they still
    reach OpenAI-compatible upstreams untouched.
    """
