# SPDX-License-Identifier: BSD-3-Clause
# Checks shared by live_test.sh and ofshim_test.sh (sourced). The script
# defines fail NAME (count and show what helps), $tmp, $in_ns (the inside
# namespace) and the counters passed and failed.

ok() { echo "ok   $1"; passed=$((passed + 1)); }
expect() {  # expect NAME COMMAND...: passes when the command succeeds
  local name=$1; shift
  if "$@" >"$tmp/last.out" 2>&1; then ok "$name"; else sed 's/^/     /' "$tmp/last.out"; fail "$name"; fi
}
# expect_not NAME COMMAND...: passes when the command fails with status 1,
# the checks' "no" (no answer, no such flow); any other failure (a tool
# missing, a crash) fails the test instead of passing it.
expect_not() {
  local name=$1; shift
  "$@" >"$tmp/last.out" 2>&1
  local rc=$?
  if [ "$rc" -eq 1 ]; then ok "$name"; else sed 's/^/     /' "$tmp/last.out"; fail "$name (status $rc)"; fi
}
eventually() {  # eventually COMMAND...: retried for up to 3 s (metrics refresh every second)
  for _ in $(seq 30); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}
inside() { ip netns exec "$in_ns" "$@"; }
# dig_gives WANT DIG_ARGS...: dig from the inside namespace. Status 0 when a
# line of its +short output is WANT; 1 when no reply came (dig's status 9),
# the checks' "no"; 2 for anything else (another reply, dig missing or
# failing, no namespace), so a broken tool cannot pass as "dropped".
dig_gives() {
  local want=$1 out rc; shift
  out=$(inside dig +time=2 +tries=1 +short "$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  [ "$rc" -eq 9 ] && return 1
  [ "$rc" -eq 0 ] && grep -qxF -- "$want" <<<"$out" && return 0
  return 2
}
craft_script="$(dirname "${BASH_SOURCE[0]}")/dns_craft.py"
craft() { inside python3 "$craft_script" "$@"; }
# The source port the last craft call printed (sport=N), to find its drop-log line.
last_sport() { sed -n 's/^sport=\([0-9]*\)$/\1/p' "$tmp/last.out"; }

# fragment_checks IFACE CLIENT ALLOWED UNKNOWN: a query sent in fragments
# is judged by its first fragment, also a TCP SYN whose first fragment
# holds only 8 bytes of its header (RFC 1858). Sets big_sport and
# tiny_sport: the source ports of the two sent to UNKNOWN, for the drop log.
fragment_checks() {
  local iface=$1 client=$2 allowed=$3 unknown=$4
  expect "fragmented_query_to_static_allowed_server_is_answered" craft big-query "$allowed" www.example.lab
  expect_not "fragmented_query_to_unknown_server_is_dropped" craft big-query "$unknown" www.example.lab
  big_sport=$(last_sport)
  expect "tiny_fragment_syn_to_static_allowed_server_is_answered" craft tiny-syn "$iface" "$client" "$allowed"
  expect_not "tiny_fragment_syn_to_unknown_server_is_dropped" craft tiny-syn "$iface" "$client" "$unknown"
  tiny_sport=$(last_sport)
}
