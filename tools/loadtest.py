#!/usr/bin/env python3
# loadtest.py - streams many requests at once at `birkhoff serve` and reports what came back.
#
# N client threads, each with one keep-alive connection, send streamed requests one after
# another until the total is reached: chat completions and completions in turn, prompts of
# random words, 8 to --max-tokens new tokens, sampled with a seed per request, some with a
# stop string. Every stream is checked (SSE framing, a finish_reason, [DONE], usage that
# counts the tokens received). Reports the failures, time to first token (p50, p99),
# generated tokens per second, and, given the server's pid, its resident memory after the
# first and the last thousand requests.
#
# Usage (only Python's standard library):
#   python3 tools/loadtest.py --url http://127.0.0.1:8000 [--concurrency 64]
#       [--requests 2000] [--max-tokens 32] [--model NAME] [--server-pid PID]
#       [--json report.json] [--progress N]
# --progress N prints a line to stderr after every N finished requests (requests, failures,
# tokens, seconds so far), so a run cut short still says how far it got.
# Exits 1 when a request failed.
import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

WORDS = ("the cat sat on a mat while seven quick foxes ran past old stone walls under "
         "grey skies and every river found its way home to the quiet sea").split()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


class Run:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.next = 0
        self.done = 0
        self.failures = []
        self.ttft = []
        self.tokens = 0
        self.rss = {}
        self.start = time.monotonic()

    def take(self):
        with self.lock:
            if self.next >= self.args.requests:
                return None
            self.next += 1
            return self.next - 1

    def finished(self, ok, why, ttft, tokens):
        with self.lock:
            self.done += 1
            if ok:
                self.ttft.append(ttft)
                self.tokens += tokens
            else:
                self.failures.append(why)
            if self.args.server_pid and self.done % 1000 == 0:
                self.rss[self.done] = rss_kib(self.args.server_pid)
            if self.args.progress and self.done % self.args.progress == 0:
                sys.stderr.write("loadtest: %d requests done (%d failed), %d tokens, %.1f s\n"
                                 % (self.done, len(self.failures), self.tokens,
                                    time.monotonic() - self.start))
                sys.stderr.flush()


def body_of(i, args):
    rng = random.Random(i)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 16)))
    body = {"max_tokens": rng.randint(8, args.max_tokens), "temperature": 0.8,
            "top_p": 0.95, "seed": i, "stream": True,
            "stream_options": {"include_usage": True}}
    if args.model:
        body["model"] = args.model
    if i % 5 == 4:
        body["stop"] = [rng.choice(WORDS)[:2]]
    if i % 2 == 0:
        body["messages"] = [{"role": "user", "content": text}]
        return "/v1/chat/completions", body
    body["prompt"] = text
    return "/v1/completions", body


def one(conn, path, body):
    """Sends one streamed request; returns (time to first token, tokens)."""
    start = time.monotonic()
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("status %d: %s" % (resp.status, resp.read()[:200]))
    first, finish, usage, received, done = None, None, None, 0, False
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode("utf-8")
        if line == "\n":
            continue
        if not line.startswith("data: "):
            raise RuntimeError("not an SSE data line: %r" % line[:80])
        data = line[6:].rstrip("\n")
        if data == "[DONE]":
            done = True
            continue
        event = json.loads(data)
        if "error" in event:
            raise RuntimeError("error event: %s" % data[:200])
        if event.get("usage"):
            usage = event["usage"]
        for c in event["choices"]:
            piece = c.get("text") or c.get("delta", {}).get("content") or ""
            if first is None and (piece or c.get("token_ids")):
                first = time.monotonic() - start
            received += len(c.get("token_ids") or [])
            if c.get("finish_reason"):
                finish = c["finish_reason"]
    if not done or finish is None or usage is None:
        raise RuntimeError("the stream ended early (done %s, finish %s, usage %s)"
                           % (done, finish, usage))
    n = usage["completion_tokens"]
    if n < 1 or n > body["max_tokens"]:
        raise RuntimeError("usage says %d tokens of at most %d" % (n, body["max_tokens"]))
    if "prompt" in body and not (received <= n <= received + 1):
        raise RuntimeError("%d token ids came for %d tokens" % (received, n))
    return (first if first is not None else time.monotonic() - start), n


def client(run, host, port):
    conn = http.client.HTTPConnection(host, port, timeout=120)
    while True:
        i = run.take()
        if i is None:
            break
        path, body = body_of(i, run.args)
        try:
            ttft, tokens = one(conn, path, body)
            run.finished(True, None, ttft, tokens)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            run.finished(False, "request %d (%s): %s" % (i, path, e), 0, 0)
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=120)
    conn.close()


def main():
    p = argparse.ArgumentParser(description="Streams many requests at once at birkhoff serve.")
    p.add_argument("--url", required=True)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--model", default="")
    p.add_argument("--server-pid", type=int, default=0)
    p.add_argument("--json", default="")
    p.add_argument("--progress", type=int, default=0)
    args = p.parse_args()
    url = urllib.parse.urlparse(args.url)
    run = Run(args)
    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(run, url.hostname, url.port))
               for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    report = {
        "requests": args.requests, "concurrency": args.concurrency,
        "failed": len(run.failures), "seconds": round(seconds, 2),
        "generated_tokens": run.tokens,
        "tokens_per_second": round(run.tokens / seconds, 1),
        "requests_per_second": round(args.requests / seconds, 1),
        "ttft_p50_ms": round(1000 * percentile(run.ttft, 50), 1),
        "ttft_p99_ms": round(1000 * percentile(run.ttft, 99), 1),
        "rss_kib_after": {str(k): v for k, v in sorted(run.rss.items())},
    }
    print("%(requests)d requests, %(concurrency)d at once: %(failed)d failed in %(seconds)s s; "
          "%(generated_tokens)d tokens, %(tokens_per_second)s tokens/s, "
          "%(requests_per_second)s requests/s; time to first token p50 %(ttft_p50_ms)s ms, "
          "p99 %(ttft_p99_ms)s ms" % report)
    if run.rss:
        print("server RSS after each thousand requests: " +
              ", ".join("%d: %.1f MiB" % (k, v / 1024.0) for k, v in sorted(run.rss.items())))
    for why in run.failures[:10]:
        print("  " + why)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
