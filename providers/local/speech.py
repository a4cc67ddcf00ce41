"""Text to speech with espeak-ng (the Debian package): formant synthesis, robotic but offline and instant.

``espeak-ng --stdout`` writes a WAV file (16-bit mono, 22,050 Hz) to a pipe as it speaks, read here
asynchronously and streamed to the client. OpenAI's voice names map to espeak-ng voices and variants; any
espeak-ng voice name (``en-gb``, ``fr``, ``de+f3``) may be given as well. The text goes through stdin, never the
command line. ``speed`` scales espeak-ng's 175 words a minute.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator

from core import errors
from core.model_types import AudioStream, ModelTarget, RawBody
from core.openai.audio import SpeechRequest
from core.openai.usage import Usage

__all__ = ["ESPEAK", "VOICES", "EspeakSpeech"]

VOICES = {"alloy": "en-us", "ash": "en-us+m3", "ballad": "en-gb+m4", "coral": "en-us+f2", "echo": "en-us+m7",
          "fable": "en-gb", "nova": "en-us+f3", "onyx": "en-us+m1", "sage": "en-gb+f4", "shimmer": "en-us+f4",
          "verse": "en-gb-x-rp"}
"""OpenAI's voices as espeak-ng voices (language + variant)."""
_VOICE_NAME = re.compile(r"[a-z]{2,3}(-[a-z0-9]+)*(\+[a-z0-9]+)?", re.IGNORECASE)
_READ = 16384


class EspeakSpeech:
    """A :class:`~core.model_types.TTSModel` running ``espeak-ng`` per call."""

    async def speech(self, target: ModelTarget, request: SpeechRequest, raw: RawBody) -> AudioStream:
        """WAV audio streamed as espeak-ng writes it."""
        program = shutil.which("espeak-ng")
        if program is None:
            raise errors.UpstreamUnavailableError("espeak-ng is not installed on this gateway: the operator should "
                                                  "install it (apt-get install espeak-ng)", code="local_engine_missing")
        if request.response_format not in (None, "wav"):
            raise errors.InvalidRequestError("espeak-ng speaks WAV only: set response_format to 'wav'.",
                                             param="response_format", code="unsupported_value")
        name = request.voice if isinstance(request.voice, str) else request.voice.get("id", "")
        voice = VOICES.get(name, name)
        if not _VOICE_NAME.fullmatch(voice):
            raise errors.InvalidRequestError(f"Unknown voice '{name}': use one of {', '.join(VOICES)} or an espeak-ng "
                                             "voice such as en-gb or de+f3.", param="voice", code="invalid_value")
        words_per_minute = round(175 * (request.speed or 1.0))
        process = await asyncio.create_subprocess_exec(
            program, "--stdout", "-v", voice, "-s", str(words_per_minute), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        process.stdin.write(request.input.encode())
        process.stdin.close()
        first = await process.stdout.read(_READ)
        if not first:
            problem = (await process.stderr.read()).decode(errors="replace").strip()
            await process.wait()
            raise errors.InvalidRequestError(f"espeak-ng could not speak with voice '{voice}': {problem}",
                                             param="voice", code="invalid_value")

        async def chunks() -> AsyncIterator[bytes]:
            assert process.stdout is not None
            yield first
            while chunk := await process.stdout.read(_READ):
                yield chunk
            await process.wait()

        async def close() -> None:
            if process.returncode is None:
                process.kill()
                await process.wait()

        characters = len(request.input)
        return AudioStream(chunks(), "audio/wav", close, Usage(prompt_tokens=characters, total_tokens=characters))


ESPEAK = EspeakSpeech()
