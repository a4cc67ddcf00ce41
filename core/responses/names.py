"""The client's names for the parameters of the chat request a Responses request became (:class:`InputNames`)."""

from __future__ import annotations

import re

__all__ = ["InputNames"]

_MESSAGE = re.compile(r"messages\[(\d+)\](.*)")
_CALL = re.compile(r"\.tool_calls\[(\d+)\](.*)")
_TOOL = re.compile(r"tools\[(\d+)\](?:\.function)?(.*)")
_RENAMED = {"max_completion_tokens": "max_output_tokens", "max_tokens": "max_output_tokens",
            "reasoning_effort": "reasoning.effort", "response_format": "text.format"}
_RULE_NAMES = {"max_completion_tokens": ("max_completion_tokens", "max_tokens")}
"""The names a chat field may have reached the upstream under (a model's rules rename ``max_completion_tokens``)."""
_SPELLED = {"output": ((".content", ".output"), (".tool_call_id", ".call_id")),
            "message": ((".image_url.url", ".image_url"), (".file.", "."))}
"""How a chat message's fields are spelled in the input item it came from (by the item's kind)."""


class InputNames:
    """The client's name for a parameter of the chat request a Responses request became (an error upstream, or in
    a provider's translation, names the chat request's): ``messages[3].tool_calls[0].function.arguments`` is
    ``input[5].arguments``, ``response_format.json_schema.schema`` is ``text.format.schema``."""

    def __init__(self, origins: list[tuple[str, str]], calls: dict[tuple[int, int], str], tools: list[int],
                 translated: set[str]) -> None:
        """``origins``: each chat message's input item (path and kind: ``message``, ``output``, ``call``);
        ``calls``: each tool call's, by (message, call) index; ``tools``: each offered tool's place in the client's
        list; ``translated``: the chat fields the translation wrote (one the client sent itself keeps its name)."""
        self._origins, self._calls, self._tools, self._translated = origins, calls, tools, translated

    def of(self, param: str | None) -> str | None:
        """The client's name for ``param`` (a name the translation did not change stays)."""
        if param is None:
            return None
        if found := _MESSAGE.fullmatch(param):
            return self._message(int(found[1]), found[2])
        if (found := _TOOL.fullmatch(param)) and int(found[1]) < len(self._tools):
            return f"tools[{self._tools[int(found[1])]}]{found[2]}"
        head, _, rest = param.partition(".")
        if any(head in _RULE_NAMES.get(field, (field,)) for field in self._translated):
            rest = rest.removeprefix("json_schema").lstrip(".")
            return _RENAMED[head] + (f".{rest}" if rest else "")
        return param

    def _message(self, index: int, rest: str) -> str:
        if index >= len(self._origins):
            return "input"
        call = _CALL.match(rest)
        if call and (index, int(call[1])) in self._calls:
            return self._calls[index, int(call[1])] + call[2].replace(".function.", ".")
        at, kind = self._origins[index]
        if not at.startswith("input["):  # instructions, or input given as a string
            return at
        for chat_name, name in _SPELLED.get(kind, ()):
            rest = rest.replace(chat_name, name, 1)
        return at + rest
