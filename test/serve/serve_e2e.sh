#!/usr/bin/env bash
# `birkhoff serve` end to end, through curl and raw sockets, on the synth tiny artifact (it has a
# tokenizer): health and models, chat and completions (whole, streamed as server-sent events,
# with stop strings), the same greedy ids as `birkhoff run`, the artifact's generation defaults,
# keep-alive, every error class in OpenAI's JSON shape (400, 404, 413, 429, malformed JSON and
# HTTP), a client that goes away (its sequence and pages come back), /metrics, and SIGTERM (503
# while draining, exit 0).
#   serve_e2e.sh <birkhoff> <work dir>
set -euo pipefail
birkhoff=$1 work=$2
mkdir -p "$work"
art="$work/tiny.bkart"
"$birkhoff" compile --synth-preset tiny -o "$art" > /dev/null
command -v curl > /dev/null || { echo "curl is not installed"; exit 1; }

fail() { echo "FAIL: $*"; [ -f "$work/server.log" ] && sed 's/^/  server: /' "$work/server.log"; exit 1; }
# json FILE EXPR: a Python expression over `j`, the parsed file.
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
# The events of an SSE stream, one JSON per line ([DONE] as DONE); checks the framing.
sse() {
  python3 - "$1" <<'PY'
import json, sys
raw = open(sys.argv[1], encoding="utf-8").read()
assert raw.endswith("\n\n"), "the stream does not end with a blank line"
for event in raw[:-2].split("\n\n"):
    assert event.startswith("data: ") and "\n" not in event, "bad event: %r" % event[:80]
    data = event[6:]
    print("DONE" if data == "[DONE]" else json.dumps(json.loads(data)))
PY
}

source "$(dirname "$0")/server.sh"
pid=""
start() { start_server "$birkhoff" "$work/server.log" "$art" "$@" || fail "no server"; }
stop() { # stop: SIGTERM, and the exit status must be 0
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "the server exited with $rc after SIGTERM"
  pid=""
}
trap '[ -n "$pid" ] && kill -9 "$pid" 2> /dev/null; true' EXIT

# post PATH BODY OUT: the status code; the body goes to OUT.
post() { curl -s -o "$3" -w '%{http_code}' -H 'Content-Type: application/json' "$url$1" -d "$2"; }
expect_error() { # expect_error STATUS PATH BODY: the status and OpenAI's error shape
  local code
  code=$(post "$2" "$3" "$work/err.json")
  [ "$code" = "$1" ] || fail "$2 $3: status $code, expected $1: $(cat "$work/err.json")"
  [ "$(json "$work/err.json" "sorted(j['error'].keys())")" = "['code', 'message', 'param', 'type']" ] ||
    fail "$2 $3: not an OpenAI error: $(cat "$work/err.json")"
}
metric() { curl -s "$url/metrics" | sed -n "s/^$1 //p"; }
wait_metric() { # wait_metric NAME VALUE: until the gauge reads VALUE (20 s at most: CI's
  # two cores may be busy with other tests)
  for _ in $(seq 1 400); do
    [ "$(metric "$1")" = "$2" ] && return 0
    sleep 0.05
  done
  fail "$1 is $(metric "$1"), not $2"
}

start --max-sequences 4 --max-context 4096 --max-queue 8 --max-body-bytes 65536 --shutdown-grace 5
echo "server at $url"

# Health and models.
[ "$(curl -s "$url/health")" = '{"status":"ok"}' ] || fail "/health"
curl -s "$url/v1/models" > "$work/models.json"
[ "$(json "$work/models.json" "j['data'][0]['id']")" = "synth-tiny" ] || fail "/v1/models"
[ "$(json "$work/models.json" "j['data'][0]['max_model_len']")" = "4096" ] || fail "max_model_len"

# Greedy completions on token ids: the ids of `birkhoff run`.
code=$(post /v1/completions '{"prompt": [5, 17, 3, 99], "max_tokens": 12, "temperature": 0, "ignore_eos": true}' "$work/c.json")
[ "$code" = 200 ] || fail "completions: $code $(cat "$work/c.json")"
got=$(json "$work/c.json" "' '.join(map(str, j['choices'][0]['token_ids']))")
want=$("$birkhoff" run "$art" --tokens 5,17,3,99 --generate 12 --no-eos-stop --temperature 0 2> /dev/null |
  tr -s ' \n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] || fail "completions ids [$got], birkhoff run [$want]"
greedy_ids=$want
[ "$(json "$work/c.json" "j['choices'][0]['finish_reason']")" = "length" ] || fail "finish_reason"
[ "$(json "$work/c.json" "j['usage']")" = "{'prompt_tokens': 4, 'completion_tokens': 12, 'total_tokens': 16}" ] ||
  fail "usage: $(json "$work/c.json" "j['usage']")"
echo "completions: ids as birkhoff run: $got"

# Chat, whole and streamed: the same greedy text; SSE framing, [DONE], usage.
chat='{"model": "synth-tiny", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there!"}], "max_tokens": 24, "temperature": 0, "ignore_eos": true'
code=$(post /v1/chat/completions "$chat}" "$work/chat.json")
[ "$code" = 200 ] || fail "chat: $code $(cat "$work/chat.json")"
[ "$(json "$work/chat.json" "j['object'], j['choices'][0]['message']['role']")" = "chat.completion assistant" ] ||
  fail "chat response: $(cat "$work/chat.json")"
content=$(json "$work/chat.json" "json.dumps(j['choices'][0]['message']['content'])")
curl -s -N -D "$work/stream.headers" -o "$work/stream.txt" "$url/v1/chat/completions" \
  -d "$chat, \"stream\": true, \"stream_options\": {\"include_usage\": true}}"
grep -qi '^content-type: text/event-stream' "$work/stream.headers" || fail "stream content type"
sse "$work/stream.txt" > "$work/events.txt" || fail "SSE framing: $(head -c 300 "$work/stream.txt")"
[ "$(tail -1 "$work/events.txt")" = DONE ] || fail "the stream does not end with [DONE]"
streamed=$(grep -v '^DONE$' "$work/events.txt" | python3 -c "
import json, sys
print(json.dumps(''.join(c['delta'].get('content') or '' for e in map(json.loads, sys.stdin) for c in e['choices'])))")
[ "$streamed" = "$content" ] || fail "streamed content $streamed, whole $content"
usage=$(grep -v '^DONE$' "$work/events.txt" | tail -1)
python3 -c "import json,sys; e=json.loads(sys.argv[1]); assert e['choices']==[] and e['usage']['completion_tokens']==24" "$usage" ||
  fail "usage chunk: $usage"
echo "chat: whole and streamed agree: $content"

# Stop strings: the text ends before the first one, whole or streamed.
base='{"prompt": [7, 8, 9], "max_tokens": 40, "temperature": 0, "ignore_eos": true'
post /v1/completions "$base}" "$work/full.json" > /dev/null
stop=$(json "$work/full.json" "json.dumps(j['choices'][0]['text'][20:22])")
want=$(json "$work/full.json" "json.dumps(j['choices'][0]['text'].split($stop)[0])")
post /v1/completions "$base, \"stop\": [$stop]}" "$work/stop.json" > /dev/null
[ "$(json "$work/stop.json" "json.dumps(j['choices'][0]['text'])")" = "$want" ] || fail "stop: $(cat "$work/stop.json")"
[ "$(json "$work/stop.json" "j['choices'][0]['finish_reason']")" = stop ] || fail "stop: finish_reason"
curl -s -N -o "$work/stop.txt" "$url/v1/completions" -d "$base, \"stop\": [$stop], \"stream\": true}"
got=$(sse "$work/stop.txt" | grep -v '^DONE$' | python3 -c "
import json, sys
print(json.dumps(''.join(e['choices'][0]['text'] for e in map(json.loads, sys.stdin))))")
[ "$got" = "$want" ] || fail "streamed stop: $got, expected $want"
echo "stop strings: $stop ends the text at $want"

# Keep-alive: two requests, one connection.
curl -s -v "$url/health" "$url/health" -o /dev/null -o /dev/null 2> "$work/keepalive.txt"
grep -q "Re-using existing connection" "$work/keepalive.txt" || fail "keep-alive: $(cat "$work/keepalive.txt")"

# Errors, each in OpenAI's shape.
expect_error 400 /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}'
expect_error 400 /v1/chat/completions '[1, 2]'
expect_error 400 /v1/chat/completions '{"messages": []}'
expect_error 400 /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "temperature": 9}'
expect_error 400 /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 5000}'
expect_error 400 /v1/completions '{"prompt": [1, 99999]}'
expect_error 400 /v1/completions '{"prompt": "x", "n": 3}'
expect_error 404 /v1/chat/completions '{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}'
expect_error 404 /v1/nothing '{}'
head -c 70000 /dev/zero | tr '\0' ' ' > "$work/big.json"
code=$(curl -s -o "$work/err.json" -w '%{http_code}' "$url/v1/completions" --data-binary @"$work/big.json")
[ "$code" = 413 ] || fail "a 70,000-byte body: $code"
[ "$(json "$work/err.json" "j['error']['code']")" = payload_too_large ] || fail "413 body"
# Malformed HTTP: a garbage request line, a header past httplib's limit, bytes that are no HTTP.
python3 - "$url" <<'PY' || fail "malformed HTTP"
import json, socket, sys
host, port = sys.argv[1][len("http://"):].split(":")
for raw in [b"GARBAGE\r\n\r\n", b"GET /health HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"]:
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(raw)
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
            [l for l in data.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1]):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400"), (raw[:20], head)
    assert set(json.loads(body)["error"]) == {"message", "type", "param", "code"}, body
print("malformed HTTP: 400 with OpenAI's error, three ways")
PY
[ "$(curl -s "$url/health")" = '{"status":"ok"}' ] || fail "/health after malformed requests"

# A client that goes away: its request is cancelled, its sequence and pages come back.
long='{"prompt": [1, 2, 3], "max_tokens": 4000, "temperature": 0, "ignore_eos": true'
curl -s -N -o /dev/null "$url/v1/completions" -d "$long, \"stream\": true}" &
client=$!
wait_metric birkhoff_running_sequences 1
[ "$(metric birkhoff_state_pages_in_use)" != 0 ] || fail "a running sequence holds no pages"
kill "$client"; wait "$client" || true
wait_metric birkhoff_running_sequences 0
wait_metric birkhoff_state_pages_in_use 0
curl -s -o /dev/null --max-time 0.5 "$url/v1/completions" -d "$long}" || true # whole, gives up
wait_metric birkhoff_running_sequences 0
wait_metric birkhoff_state_pages_in_use 0
echo "disconnects: streamed and whole requests cancelled, pages back"

# /metrics, in Prometheus' text format.
curl -s "$url/metrics" > "$work/metrics.txt"
for m in birkhoff_prompt_tokens_total birkhoff_generated_tokens_total birkhoff_queue_length \
         birkhoff_running_sequences birkhoff_state_pages_in_use birkhoff_state_pages_total \
         birkhoff_time_to_first_token_seconds_count birkhoff_inter_token_seconds_count; do
  grep -q "^$m [0-9]" "$work/metrics.txt" || fail "/metrics has no $m"
done
grep -q '^birkhoff_requests_total{route="/v1/chat/completions",status="200"} [1-9]' "$work/metrics.txt" || fail "chat 200s"
grep -q '^birkhoff_requests_total{route="/v1/chat/completions",status="400"} [1-9]' "$work/metrics.txt" || fail "chat 400s"
grep -q '^birkhoff_requests_total{route="other",status="404"} 1$' "$work/metrics.txt" || fail "404s"
grep -q '^birkhoff_requests_total{route="/v1/completions",status="413"} 1$' "$work/metrics.txt" || fail "413s"
# The whole request whose client gave up was answered as nginx's 499 (nobody read it).
grep -q '^birkhoff_requests_total{route="/v1/completions",status="499"} 1$' "$work/metrics.txt" || fail "499s"

# The artifact's generation config fills what a request leaves out: compiled with do_sample
# false, a request without a temperature is greedy (the ids of `birkhoff run` above); one with a
# temperature samples.
stop
echo '{"do_sample": false}' > "$work/greedy.json"
"$birkhoff" compile --synth-preset tiny --generation-config "$work/greedy.json" -o "$work/greedy.bkart" > /dev/null
start_server "$birkhoff" "$work/server.log" "$work/greedy.bkart" --max-sequences 2 --max-context 512 || fail "no server"
code=$(post /v1/completions '{"prompt": [5, 17, 3, 99], "max_tokens": 12, "ignore_eos": true}' "$work/g.json")
[ "$code" = 200 ] || fail "completions on greedy defaults: $code $(cat "$work/g.json")"
got=$(json "$work/g.json" "' '.join(map(str, j['choices'][0]['token_ids']))")
[ "$got" = "$greedy_ids" ] || fail "greedy defaults: ids [$got], birkhoff run [$greedy_ids]"
code=$(post /v1/completions '{"prompt": [5, 17, 3, 99], "max_tokens": 12, "ignore_eos": true, "temperature": 1, "seed": 5}' "$work/g1.json")
[ "$code" = 200 ] || fail "completions with a temperature: $code $(cat "$work/g1.json")"
got=$(json "$work/g1.json" "' '.join(map(str, j['choices'][0]['token_ids']))")
[ "$got" != "$greedy_ids" ] || fail "temperature 1 gave the greedy ids"
echo "generation config defaults: greedy without a temperature, sampled with one"

# SIGTERM while a request streams: /health and new requests are 503; the stream ends (an error
# event and [DONE] once the grace is over) and the server exits 0.
stop
# A grace long enough that a busy machine still answers /health while draining.
start --max-sequences 1 --max-context 4096 --max-queue 1 --shutdown-grace 2
curl -s -N -o "$work/drain.txt" "$url/v1/completions" -d "$long, \"stream\": true}" &
first=$!
wait_metric birkhoff_running_sequences 1
curl -s -N -o /dev/null "$url/v1/completions" -d "$long, \"stream\": true}" & # waits in the queue
second=$!
wait_metric birkhoff_queue_length 1
expect_error 429 /v1/completions "$long}"
[ "$(json "$work/err.json" "j['error']['code']")" = queue_full ] || fail "429 code"
kill -TERM "$pid"
sleep 0.3
code=$(curl -s -o "$work/health.json" -w '%{http_code}' "$url/health")
[ "$code" = 503 ] || fail "/health while draining: $code"
expect_error 503 /v1/completions '{"prompt": [1]}'
rc=0; wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
wait "$first" "$second" || true
sse "$work/drain.txt" | tail -2 > "$work/drain-end.txt"
grep -q '"shutting_down"' "$work/drain-end.txt" || fail "the cut stream does not end with an error: $(cat "$work/drain-end.txt")"
[ "$(tail -1 "$work/drain-end.txt")" = DONE ] || fail "the cut stream does not end with [DONE]"
grep -q "stopped (requests still running were ended)" "$work/server.log" || fail "server log: $(cat "$work/server.log")"
echo "SIGTERM: 429 when full, 503 while draining, streams ended, exit 0"
echo "serve e2e: PASS"
