#!/usr/bin/env sh
# Chat through Model Runtime with curl.
#   MODEL_RUNTIME_URL=http://127.0.0.1:8000/v1 MODEL=local/smollm2-135m-instruct sh examples/chat.sh
curl -sS "${MODEL_RUNTIME_URL:-http://127.0.0.1:8000/v1}/chat/completions" \
  -H "Authorization: Bearer ${MODEL_RUNTIME_API_KEY:-none}" \
  -H "Content-Type: application/json" \
  -d "{\"model\": \"${MODEL:-chat}\", \"messages\": [{\"role\": \"user\", \"content\": \"Say hello\"}]}"
echo
