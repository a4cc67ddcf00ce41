"""Rebuild the shipped ``*.tiktoken.gz`` files from a js-tiktoken npm tarball, offline.

    npm pack js-tiktoken@1.0.21            # or download the tarball from the npm registry
    python core/tokenizers/build.py js-tiktoken-1.0.21.tgz

js-tiktoken ships each encoding's BPE ranks as ``dist/ranks/<name>.js``: ``export default {"bpe_ranks": ...}``,
where ``bpe_ranks`` holds lines of ``<label> <first rank> <base64 token> <base64 token> ...`` (consecutive ranks
from the first). This script expands them into tiktoken's own format, one ``<base64 token> <rank>`` line per token
in rank order, and refuses to write unless the sha256 equals the ``expected_hash`` that the installed tiktoken
package declares for OpenAI's file: the hash is what proves the file faithful.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any
from unittest import mock

from tiktoken_ext import openai_public  # type: ignore[import-untyped]  # no py.typed

__all__ = ["ENCODINGS", "declared", "expand_ranks", "main"]

ENCODINGS = ("cl100k_base", "o200k_base")
HERE = Path(__file__).parent


def declared(name: str) -> tuple[str, dict[str, Any]]:
    """tiktoken's ``expected_hash`` for OpenAI's ``<name>.tiktoken`` and its encoding parameters, without a download.

    tiktoken keeps the hash inside each encoding's constructor, so run the constructor with its loader swapped
    for one that records the hash instead of fetching the file (the parameters then carry empty ranks).
    """
    seen: dict[str, str] = {}

    def record(url: str, expected_hash: str) -> dict[bytes, int]:
        seen["hash"] = expected_hash
        return {}

    with mock.patch.object(openai_public, "load_tiktoken_bpe", record):
        parameters: dict[str, Any] = openai_public.ENCODING_CONSTRUCTORS[name]()
    return seen["hash"], parameters


def expand_ranks(module_source: str) -> bytes:
    """Turn a js-tiktoken ranks module into the bytes of a ``.tiktoken`` file."""
    payload: dict[str, Any] = json.loads(module_source.removeprefix("export default ").rstrip().rstrip(";"))
    ranks: dict[str, int] = {}
    for line in payload["bpe_ranks"].split("\n"):
        if not line:
            continue
        _label, first, *tokens = line.split(" ")
        for offset, token in enumerate(tokens):
            ranks[token] = int(first) + offset
    return "".join(f"{token} {rank}\n" for token, rank in sorted(ranks.items(), key=lambda item: item[1])).encode()


def main() -> None:
    """Read the tarball named on the command line, check each encoding's hash and write ``<name>.tiktoken.gz``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path, help="js-tiktoken-<version>.tgz from `npm pack js-tiktoken`")
    args = parser.parse_args()
    with tarfile.open(args.tarball) as tar:
        for name in ENCODINGS:
            member = tar.extractfile(f"package/dist/ranks/{name}.js")
            if member is None:
                raise SystemExit(f"{args.tarball} has no dist/ranks/{name}.js")
            data = expand_ranks(member.read().decode())
            digest, expected = hashlib.sha256(data).hexdigest(), declared(name)[0]
            if digest != expected:
                raise SystemExit(f"{name}: sha256 {digest} is not tiktoken's {expected}; nothing written")
            # mtime=0 keeps the .gz byte-for-byte reproducible.
            (HERE / f"{name}.tiktoken.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
            print(f"{name}: {len(data)} bytes, sha256 {digest} (matches tiktoken)")


if __name__ == "__main__":
    main()
