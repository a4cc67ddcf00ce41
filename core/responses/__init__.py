"""The Responses API served by any chat model: a request becomes a chat completion request
(:func:`chat_request`), and the answer a response object (:func:`response_body`) or, streamed, the Responses events
(:class:`ResponseEvents`), as the chat answer arrives.

The gateway keeps no responses: ``previous_response_id``, ``conversation``, ``background`` and server-side
``prompt`` templates are refused with a 400, and ``store`` is answered ``false``. A client sends the whole history
as ``input``, output items included, as the openai SDK and agent frameworks do with ``store=False``. Only function
tools are served; the hosted ones (web and file search, computer use, code interpreter, ...) run on OpenAI's servers.

What a chat answer carries maps one to one: thinking (``reasoning_content``) to a reasoning item, text and refusal
to the message, tool calls to function calls, ``finish_reason`` ``length`` and ``content_filter`` to an incomplete
response. Anthropic's signed thinking (``thinking_blocks``), which its tool loops need back, travels in the reasoning
item's ``encrypted_content`` and comes back from it.
"""

from __future__ import annotations

from .answer import Echo, response_body
from .request import chat_request
from .stream import ResponseEvents

__all__ = ["Echo", "ResponseEvents", "chat_request", "response_body"]
