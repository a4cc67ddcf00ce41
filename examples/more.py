"""Rerank, text to speech, speech to text and moderation through Model Runtime, whichever providers answer.

    MODEL_RUNTIME_URL=http://127.0.0.1:8000/v1 RERANK_MODEL=cohere/rerank-v3.5 python examples/more.py
"""

import os

import httpx
from openai import OpenAI

base_url = os.environ.get("MODEL_RUNTIME_URL", "http://127.0.0.1:8000/v1")
api_key = os.environ.get("MODEL_RUNTIME_API_KEY", "unused-when-the-gateway-is-open")
client = OpenAI(base_url=base_url, api_key=api_key)

# Rerank has no method in the OpenAI SDK: it is one POST (Cohere's and Jina's SDKs work too).
ranked = httpx.post(
    f"{base_url}/rerank",
    headers={"Authorization": f"Bearer {api_key}"},
    json={
        "model": os.environ.get("RERANK_MODEL", "rerank"),
        "query": "What is the capital of France?",
        "documents": ["Berlin is in Germany.", "Paris is the capital of France.", "Bananas are yellow."],
        "top_n": 2,
    },
).json()
for result in ranked["results"]:
    print(f"{result['relevance_score']:.3f} {result['document']['text']}")

# Text to speech, streamed to a file as it arrives.
path = os.environ.get("SPEECH_FILE", "hello.wav")
with client.audio.speech.with_streaming_response.create(
    model=os.environ.get("TTS_MODEL", "openai/tts-1"), voice="alloy", input="Hello from Model Runtime.",
    response_format="wav",
) as speech:
    speech.stream_to_file(path)
print(f"{path}: {os.path.getsize(path)} bytes")

# Speech to text, of the file just written.
with open(path, "rb") as audio:
    heard = client.audio.transcriptions.create(file=audio, model=os.environ.get("STT_MODEL", "openai/whisper-1"))
print("heard:", heard.text)

verdict = client.moderations.create(input="I will kill the process.")  # omni-moderation-latest
print("flagged:", verdict.results[0].flagged)
