# server.sh - sourced by the serve test scripts: starts `birkhoff serve` on a free port.
#   start_server BIRKHOFF LOG ARTIFACT [serve options...]
# sets $pid and $url (http://127.0.0.1:PORT, read from the server's stderr in LOG); returns 1
# with the log on stdout when the server exits or does not listen within $SERVE_START_SECONDS
# (default 30; a model whose weights are generated at load needs longer).
start_server() {
  local birkhoff=$1 log=$2
  shift 2
  # A log left by an earlier server names its port: gone before this one starts, so that the
  # loop below cannot read it before the new server's redirection empties the file.
  rm -f "$log"
  "$birkhoff" serve "$@" --port 0 2> "$log" &
  pid=$!
  url=""
  for _ in $(seq 1 $((${SERVE_START_SECONDS:-30} * 10))); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$log" 2> /dev/null)
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  echo "the server did not start:"
  cat "$log"
  return 1
}
