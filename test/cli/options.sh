#!/usr/bin/env bash
# Every option of every command (docs/cli.md; issue 15, "one CLI framework"): `--help` and
# `birkhoff help <command>` list it with its default (and range); an unknown option, a missing
# value and an out-of-range value are usage errors (exit 2) named the same way in every
# command; `--opt=value` and `--opt value` are the same. The table below is every option: the
# test fails when a command's help lists one it does not know, so a new option gets a line.
set -uo pipefail
birkhoff=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# COMMAND OPTION KIND GOOD BAD MESSAGE
#   range: BAD is refused with exit 2 and MESSAGE (the range; ~ for a space) in the error;
#   text: any value; flag: takes no value.
table=$(cat <<'EOF'
compile --output text x.bkart - -
compile --synth-preset range tiny huge tiny|flash|pro
compile --tokenizer text t.json - -
compile --generation-config text g.json - -
compile --layers range 2 -1 [0,~9223372036854775807]
compile --experts range 4 x [0,~9223372036854775807]
compile --seed range 1 -1 [0,~9223372036854775807]
compile --unquantized flag - - -
compile --no-mtp flag - - -
compile --target range cuda gpu host|cuda
compile --arch range sm_90a sm like~sm_90a
compile --dump-kernels text k - -
compile --embed-ptx flag - - -
compile --tree-reductions flag - - -
compile --split-decode-attention flag - - -
compile --numerics range official fast reference|official
compile --shared-expert-clamp range off maybe on|off
compile --max-tokens range 64 0 [1,~2147483647]
compile --max-context range 128 1073741825 [1,~1073741824]
compile --compile-to range kernel ir v4|fused|kernel|artifact
compile --dump-ir text ir.mlir - -
compile --print-ir-after-all flag - - -
compile --timing flag - - -
synth --preset range tiny huge tiny|flash|pro
synth --config text c.json - -
synth --output text out - -
synth --layers range 2 x [0,~9223372036854775807]
synth --experts range 4 -2 [0,~9223372036854775807]
synth --seed range 1 -1 [0,~9223372036854775807]
synth --unquantized flag - - -
synth --no-mtp flag - - -
synth --shard-mb range 1 0 [1,~8796093022207]
synth --threads range 1 4097 [0,~4096]
run --tokens range 1,2 1,-1 [0,~2147483647]
run --prompt text hi - -
run --batch text b.json - -
run --chat flag - - -
run --no-bos flag - - -
run --thinking flag - - -
run --reasoning-effort range max huge low|high|max
run --system text hi - -
run --chunks range 1,1 0,1 P~>=~1
run --dump-logits text l.npy - -
run --generate range 2 -1 [0,~1073741824]
run --dump-tokens text t.npy - -
run --temperature range 0.5 nan [0,~3.40282e+38]
run --top-k range 5 -1 [0,~2147483647]
run --top-p range 0.9 0 (0,~1]
run --seed range -3 x [-9223372036854775808,~9223372036854775807]
run --stop-ids range 7 7,x [0,~2147483647]
run --no-eos-stop flag - - -
run --max-context range 64 -1 [0,~1073741824]
run --threads range 1 100000 [0,~4096]
run --device range cuda:1 gpu host,~cuda~or~cuda:N
run --no-cuda-graphs flag - - -
run --verify flag - - -
run --json flag - - -
inspect --launches flag - - -
inspect --context range 64 -1 [0,~1073741824]
inspect --generate flag - - -
inspect --verify flag - - -
inspect --threads range 1 -1 [0,~4096]
inspect --json flag - - -
bench --prompt range 4 0 [1,~1073741824]
bench --contexts range 8,16 0 [1,~1073741824]
bench --context range 8 0 [1,~1073741824]
bench --decode range 1 -1 [0,~1073741824]
bench --threads range 1 4097 [0,~4096]
bench --seed range 2 x [-9223372036854775808,~9223372036854775807]
bench --device range cuda gpu host,~cuda~or~cuda:N
bench --no-cuda-graphs flag - - -
bench --profile flag - - -
bench --batch range 2 65537 [0,~65536]
bench --verify flag - - -
bench --json flag - - -
serve --host text 0.0.0.0 - -
serve --port range 0 65536 [0,~65535]
serve --device range host cuda:x host,~cuda~or~cuda:N
serve --threads range 1 -1 [0,~4096]
serve --no-cuda-graphs flag - - -
serve --verify flag - - -
serve --max-sequences range 2 0 [1,~1048576]
serve --max-context range 64 -1 [0,~1073741824]
serve --step-tokens range 16 1 [2,~1073741824]
serve --max-queue range 4 -1 [0,~1048576]
serve --state-pages range 0 -1 [0,~2147483647]
serve --page-tokens range 0 -1 [0,~1073741824]
serve --max-body-bytes range 1024 0 [1,~4294967296]
serve --max-messages range 8 0 [1,~1048576]
serve --http-threads range 2 -1 [0,~4096]
serve --shutdown-grace range 1 inf [0,~86400]
serve --model-name text m - -
perplexity --file text f.txt - -
perplexity --text text hi - -
perplexity --tokens text ids.npy - -
perplexity --window range 64 1 [2,~1073741824]
perplexity --windows range 2 0 [1,~2147483647]
perplexity --no-bos flag - - -
perplexity --max-context range 64 -1 [0,~1073741824]
perplexity --threads range 1 4097 [0,~4096]
perplexity --device range cuda gpu host,~cuda~or~cuda:N
perplexity --verify flag - - -
perplexity --json flag - - -
tokenize --text text hi - -
tokenize --file text f.txt - -
tokenize --decode range 1,2 x [0,~2147483647]
tokenize --json flag - - -
tokenize --skip-special flag - - -
chat-template --parse flag - - -
chat-template --thinking flag - - -
chat-template --no-thinking flag - - -
chat-template --reasoning-effort range max huge low|high|max
compile --log-level range warning bogus error|warning|info|debug
compile --quiet flag - - -
synth --log-level range warning bogus error|warning|info|debug
synth --quiet flag - - -
run --log-level range warning bogus error|warning|info|debug
run --quiet flag - - -
inspect --log-level range warning bogus error|warning|info|debug
inspect --quiet flag - - -
bench --log-level range warning bogus error|warning|info|debug
bench --quiet flag - - -
serve --log-level range warning bogus error|warning|info|debug
serve --quiet flag - - -
perplexity --log-level range warning bogus error|warning|info|debug
perplexity --quiet flag - - -
tokenize --log-level range warning bogus error|warning|info|debug
tokenize --quiet flag - - -
chat-template --log-level range warning bogus error|warning|info|debug
chat-template --quiet flag - - -
version --log-level range warning bogus error|warning|info|debug
version --quiet flag - - -
EOF
)

# run_cli OUT ARGS...: runs `birkhoff ARGS`, stdout to OUT.out, stderr to OUT.err; the status.
run_cli() {
  local out=$1
  shift
  "$birkhoff" "$@" > "$work/$out.out" 2> "$work/$out.err"
}
# expect_usage_error TEXT ARGS...: exit 2, and TEXT and the usage line on stderr.
expect_usage_error() {
  local text=$1 status=0
  shift
  run_cli e "$@" || status=$?
  if [ "$status" != 2 ] || ! grep -qF -- "$text" "$work/e.err" ||
     ! grep -q '^usage: birkhoff' "$work/e.err"; then
    fail "birkhoff $* exited $status (want 2, saying '$text'): $(cat "$work/e.err")"
  fi
}

commands=$("$birkhoff" --help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
for c in compile synth run inspect bench perplexity serve tokenize chat-template version help; do
  grep -qx "$c" <<< "$commands" || fail "birkhoff --help does not list $c"
done

for c in $commands; do
  # Help: exit 0 on stdout, the same through `birkhoff help`.
  run_cli help "$c" --help || fail "birkhoff $c --help exited $?"
  cp "$work/help.out" "$work/$c.help"
  run_cli help2 help "$c" || fail "birkhoff help $c exited $?"
  cmp -s "$work/help.out" "$work/help2.out" || fail "birkhoff help $c differs from $c --help"
  grep -q "^usage: birkhoff $c" "$work/help.out" || fail "birkhoff $c --help has no usage line"
  # Each listed option is in the table: the table (and so this test) covers every option.
  listed=$(grep -oE '^  (-[a-z], )?--[a-z-]+' "$work/help.out" | grep -oE -- '--[a-z-]+' |
           grep -vx -- '--help')
  for o in $listed; do
    awk -v c="$c" -v o="$o" '$1 == c && $2 == o { found = 1 } END { exit !found }' <<< "$table" ||
      fail "birkhoff $c --help lists $o, which this test's table lacks"
  done
  # Unknown options, in both forms, before anything else is checked.
  expect_usage_error "birkhoff $c: unknown option --no-such-option" "$c" --no-such-option
  expect_usage_error "birkhoff $c: unknown option --no-such-option" "$c" --no-such-option=1 x
done

while read -r c o kind good bad message; do
  grep -qx "$c" <<< "$commands" || continue # a build without the command
  message=${message//\~/ }
  # Listed by the help, with its default (or "required"), and its range: the option's lines,
  # joined, up to the next option.
  block=$(awk -v o="$o" '
    /^  [-<]/ { inside = ($0 ~ "^  (-[a-z], )?" o "( |$)") }
    inside' "$work/$c.help" | tr -s ' \n' ' ')
  [ -n "$block" ] || { fail "birkhoff $c --help does not list $o"; continue; }
  grep -qE 'default: |required' <<< "$block" || fail "birkhoff $c --help: $o has no default"
  case $kind in
    flag)
      expect_usage_error "birkhoff $c: $o takes no value" "$c" "$o=1"
      ;;
    text | range)
      expect_usage_error "birkhoff $c: $o needs a value" "$c" "$o"
      # --opt=value: the value is taken and checked (--help then prints the help, exit 0).
      run_cli eq "$c" "$o=$good" --help || fail "birkhoff $c $o=$good --help exited $?: $(cat "$work/eq.err")"
      ;;
  esac
  if [ "$kind" = range ]; then
    # A range or the choices: the help shows them as the error does.
    if [[ "$message" == [\[\(]* || "$message" == *\|* ]]; then
      grep -qF -- "$message" <<< "$block" || fail "birkhoff $c --help: $o does not show '$message'"
    fi
    expect_usage_error "birkhoff $c: $o" "$c" "$o" "$bad"
    expect_usage_error "$message" "$c" "$o" "$bad"
    expect_usage_error "$message" "$c" "$o=$bad"
  fi
done <<< "$table"

# --opt=value and --opt value do the same work.
art="$work/tiny.bkart"
"$birkhoff" compile --synth-preset=tiny --layers=3 --seed=1 --max-tokens=64 --max-context=256 \
  --output="$art" 2> /dev/null || fail "compile with --opt=value forms"
"$birkhoff" compile --synth-preset tiny --layers 3 --seed 1 --max-tokens 64 --max-context 256 \
  -o "$work/tiny2.bkart" 2> /dev/null || fail "compile with --opt value forms"
cmp -s "$art" "$work/tiny2.bkart" || fail "compile: --opt=value and --opt value differ"
run_cli eq run "$art" --tokens=1,2,3 --generate=3 --threads=1 --seed=3 --temperature=0.7 \
  --top-k=5 --top-p=0.9 --max-context=64 --chunks=2,1 --device=host --dump-tokens="$work/a.npy" ||
  fail "run with --opt=value forms: $(cat "$work/eq.err")"
run_cli sp run "$art" --tokens 1,2,3 --generate 3 --threads 1 --seed 3 --temperature 0.7 \
  --top-k 5 --top-p 0.9 --max-context 64 --chunks 2,1 --device host --dump-tokens "$work/b.npy" ||
  fail "run with --opt value forms: $(cat "$work/sp.err")"
cmp -s "$work/eq.out" "$work/sp.out" && cmp -s "$work/a.npy" "$work/b.npy" ||
  fail "run: --opt=value and --opt value differ"
run_cli eq inspect "$art" --context=64 --threads=1 || fail "inspect --context=64"
grep -q 'at 64 tokens' "$work/eq.out" || fail "inspect --context=64 did not take 64"
run_cli eq bench "$art" --prompt=4 --contexts=8 --decode=1 --threads=1 --seed=2 ||
  fail "bench with --opt=value forms: $(cat "$work/eq.err")"
grep -q 'decode   context 8 ' "$work/eq.out" || fail "bench --contexts=8 did not take 8"
run_cli eq perplexity "$art" --text=hello --window=2 --windows=1 --max-context=64 --threads=1 \
  --device=host || fail "perplexity with --opt=value forms: $(cat "$work/eq.err")"
run_cli sp perplexity "$art" --text hello --window 2 --windows 1 --max-context 64 --threads 1 \
  --device host || fail "perplexity with --opt value forms: $(cat "$work/sp.err")"
cmp -s "$work/eq.out" "$work/sp.out" || fail "perplexity: --opt=value and --opt value differ"
grep -q '^windows     1 of 2 tokens' "$work/eq.out" || fail "perplexity --window=2 --windows=1 did not take them"
run_cli eq tokenize "$art" --text=hello || fail "tokenize --text=hello"
run_cli sp tokenize "$art" --text hello
cmp -s "$work/eq.out" "$work/sp.out" || fail "tokenize: --text=hello and --text hello differ"
"$birkhoff" synth --preset=tiny --layers=2 --experts=4 --seed=1 --shard-mb=1 --threads=1 \
  --output="$work/ckpt" > /dev/null || fail "synth with --opt=value forms"
[ -f "$work/ckpt/config.json" ] || fail "synth --output=DIR wrote no config.json"

# Usage errors are found before any work: nothing is written.
expect_usage_error "--threads expects an integer in [0, 4096], got '100000'" \
  run "$art" --tokens 1 --threads 100000 --dump-tokens "$work/none.npy"
[ ! -e "$work/none.npy" ] || fail "run wrote --dump-tokens despite a usage error"
expect_usage_error "unknown option --bogus" run --bogus # before the missing artifact
expect_usage_error "artifact is required" run --tokens 1
expect_usage_error "unexpected argument 'extra'" inspect "$art" extra
expect_usage_error "birkhoff: unknown command 'nope'" nope
expect_usage_error "birkhoff help: unknown command 'nope'" help nope
expect_usage_error "--tokens, --prompt, --batch or --chat is required" run "$art"
expect_usage_error "--tokens excludes --prompt" run "$art" --tokens 1 --prompt x
expect_usage_error "--output needs a value" compile --synth-preset tiny -o
run_cli e > /dev/null; [ $? = 2 ] || fail "birkhoff without a command: want exit 2"
run_cli e --help || fail "birkhoff --help exited $?"
run_cli e --version || fail "birkhoff --version exited $?"
grep -q '^birkhoff ' "$work/e.out" || fail "birkhoff --version printed no version"

[ "$fails" = 0 ] || { echo "cli options: $fails failed"; exit 1; }
echo "cli options: PASS"
