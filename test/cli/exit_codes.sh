#!/usr/bin/env bash
# The exit status of every command (docs/cli.md): 0 on success, 1 when the work itself fails,
# 2 for a usage error; each command once for each status it has (version and help have no
# work that can fail). The usage errors of every option are in options.sh, the failures of
# bad files in integrity.sh, special_inputs.sh and cli_bad_values.sh.
set -uo pipefail
birkhoff=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
fails=0
# expect STATUS COMMAND ARGS...: `birkhoff COMMAND ARGS` exits with STATUS.
expect() {
  local want=$1 got=0
  shift
  timeout 300 "$birkhoff" "$@" > "$work/out.txt" 2> "$work/err.txt" < /dev/null || got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: birkhoff $* exited $got, want $want: $(head -c 600 "$work/err.txt")"
    fails=$((fails + 1))
  elif [ "$want" = 2 ] && ! grep -q '^usage: birkhoff' "$work/err.txt"; then
    echo "FAIL: birkhoff $*: exit 2 without the usage: $(cat "$work/err.txt")"
    fails=$((fails + 1))
  fi
}
art="$work/tiny.bkart" missing="$work/missing.bkart"
echo '{"messages": [{"role": "user", "content": "Hi"}]}' > "$work/request.json"
echo '{"model": "x"}' > "$work/no-messages.json"
printf 'Hello<｜end▁of▁sentence｜>' > "$work/reply.txt"

expect 0 compile --synth-preset tiny --layers 2 -o "$art"
expect 1 compile "$work/no-checkpoint" -o "$work/x.bkart"
expect 2 compile --synth-preset tiny # no -o
expect 2 compile --synth-preset tiny --layers 99 -o "$work/x.bkart"
expect 2 compile --synth-preset tiny --experts 1 -o "$work/x.bkart"

expect 0 synth --preset tiny --layers 1 --threads 1 -o "$work/ckpt"
touch "$work/file"
expect 1 synth --preset tiny --layers 1 -o "$work/file/ckpt" # cannot create the folder
expect 2 synth --preset tiny # no -o
expect 2 synth --preset tiny --layers 99 -o "$work/ckpt99"
expect 2 compile "$work/ckpt" -o "$work/ckpt/config.json" # an input as the output

expect 0 run "$art" --tokens 1,2,3 --generate 2 --threads 1
expect 1 run "$missing" --tokens 1
expect 1 run "$art" --tokens 1,2000000000 # outside the vocabulary
expect 2 run "$art" # no prompt
expect 2 run "$art" --tokens 1 --generate -1
expect 2 run "$art" --tokens 1,2 --chunks 2,1 # checked against the prompt once read

expect 0 inspect "$art"
expect 1 inspect "$missing"
expect 2 inspect "$art" --context x

expect 0 bench "$art" --prompt 4 --decode 1 --threads 1
expect 1 bench "$missing"
expect 2 bench "$art" --prompt 0

expect 0 tokenize "$art" --text hello
expect 0 tokenize "$art" --decode 1,2
expect 1 tokenize "$art" --decode 999999 # outside the vocabulary
expect 1 tokenize "$work/missing.json" --text hello
expect 2 tokenize "$art" # neither --text, --file nor --decode

expect 0 perplexity "$art" --text "a few words of text" --threads 1
expect 1 perplexity "$missing" --text hello
expect 2 perplexity "$art" # no --text, --file or --tokens

expect 0 chat-template "$work/request.json"
expect 0 chat-template --parse "$work/reply.txt"
expect 1 chat-template "$work/no-messages.json"
expect 1 chat-template "$work/missing.json"
expect 2 chat-template "$work/request.json" --thinking --no-thinking

expect 0 version
expect 0 --version
expect 2 version extra
expect 0 help run
expect 2 help nope
expect 2 # no command
expect 2 nope

# serve: 0 after SIGTERM, 1 when the artifact does not load or the port is taken.
if "$birkhoff" --help | grep -q '^  serve '; then
  expect 1 serve "$missing" --port 0
  expect 2 serve "$art" --port 65536
  source "$(dirname "$0")/../serve/server.sh"
  if start_server "$birkhoff" "$work/server.log" "$art" --threads 1; then
    port=${url##*:}
    expect 1 serve "$art" --port "$port" --threads 1 # the first server holds it
    kill -TERM "$pid"
    got=0
    wait "$pid" || got=$?
    [ "$got" = 0 ] || { echo "FAIL: serve exited $got after SIGTERM, want 0"; fails=$((fails + 1)); }
  else
    fails=$((fails + 1))
  fi
fi

[ "$fails" = 0 ] || { echo "exit codes: $fails failed"; exit 1; }
rm -rf "$work"
echo "exit codes: PASS"
