#!/usr/bin/env bash
# `birkhoff run --chat` through the command line: a turn's reply is what `run --prompt` of the
# prompt `birkhoff chat-template` writes for the same conversation generates (greedy), and a
# second turn continues the conversation; /reset, /exit and end of input behave.
set -euo pipefail
birkhoff=$1 work=$2
mkdir -p "$work"
art="$work/tiny.bkart"
"$birkhoff" compile --synth-preset tiny -o "$art" > /dev/null
echo '{"messages":[{"role":"user","content":"Hello there"}]}' > "$work/req.json"
prompt="$("$birkhoff" chat-template "$work/req.json")"
want="$("$birkhoff" run "$art" --prompt "$prompt" --no-bos --generate 12 --no-eos-stop 2>/dev/null)"
got="$(printf 'Hello there\n' | "$birkhoff" run "$art" --chat --generate 12 --no-eos-stop 2>/dev/null)"
[ "$got" = "$want" ] || { echo "chat reply [$got] != run --prompt [$want]"; exit 1; }
# Two turns, a reset and a third; then /exit ends before the last line.
printf 'Hello there\nAnd then?\n/reset\nHello there\n/exit\nnever read\n' |
  "$birkhoff" run "$art" --chat --generate 12 --no-eos-stop > "$work/out.txt" 2> "$work/err.txt"
[ "$(wc -l < "$work/out.txt")" = 3 ] || { cat "$work/out.txt"; exit 1; }
[ "$(sed -n 3p "$work/out.txt")" = "$want" ] || { echo "after /reset the reply differs"; exit 1; }
[ "$(grep -c 'reply cut at 12 tokens' "$work/err.txt")" = 3 ] || { cat "$work/err.txt"; exit 1; }
# Thinking mode: the reply starts in reasoning, shown on stderr, not stdout.
printf 'Hello there\n' | "$birkhoff" run "$art" --chat --thinking --generate 8 --no-eos-stop \
  > "$work/think.out" 2> "$work/think.err"
[ "$(tr -d '\n' < "$work/think.out")" = "" ] || { echo "reasoning reached stdout"; exit 1; }
echo "cli chat: PASS"
