-- wrk script: POST a small chat completion request (body from the environment, else a default).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-key"
wrk.body = os.getenv("BENCH_BODY") or
  '{"model":"bench/bench-model","messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
