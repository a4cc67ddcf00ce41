"""Chat through Model Runtime with the official OpenAI SDK: nothing but the base URL changes.

    MODEL_RUNTIME_URL=http://127.0.0.1:8000/v1 MODEL=local/smollm2-135m-instruct python examples/chat.py
"""

import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("MODEL_RUNTIME_URL", "http://127.0.0.1:8000/v1"),
    api_key=os.environ.get("MODEL_RUNTIME_API_KEY", "unused-when-the-gateway-is-open"),
)
model = os.environ.get("MODEL", "chat")

reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello"}])
print(reply.choices[0].message.content)

for chunk in client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": "Count to five"}], stream=True
):
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)
print()

# The Responses API, answered by the same chat model.
print(client.responses.create(model=model, input="Say hello again", instructions="Be brief.").output_text)

vectors = client.embeddings.create(model=os.environ.get("EMBEDDING_MODEL", "embedding"), input=["a", "b"])
print(len(vectors.data), "vectors of", len(vectors.data[0].embedding), "dimensions")
