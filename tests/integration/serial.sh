#!/bin/bash
# serial.sh - servers that complete TLS handshakes one at a time, in accept
# order (`openssl s_server -WWW`, Python's http.server on an ssl-wrapped
# socket).  evfetch must never hold a connected socket back from its
# handshake: every URL of a batch succeeds, on TLS 1.2 and 1.3, at -c 50
# and -c 32 (evfetch's default of 32 handshakes at once), and with no
# connect timeout at all a small batch still ends.  Connects that hang
# (SYNs dropped) give their handshake slot back instead of starving other
# hosts, and a TLS 1.3 server that sends no tickets and answers slowly does
# not hold its host's other connections behind the first.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
need_openssl
make_pki "$T/pki" || bail_out "cannot make the test PKI"
CERT=$PKI_DIR/server.pem
KEY=$PKI_DIR/server.key
mkdir -p "$T/www"
for i in $(seq 1 500); do printf 'file %d\n' "$i" >"$T/www/$i"; done

# start_s_server TLSFLAG: openssl s_server -WWW serving $T/www; sets SPORT.
start_s_server() {
	local log=$T/s_server.$1.log
	SPORT=$(free_port)
	(cd "$T/www" && exec "$OPENSSL_BIN" s_server -WWW -quiet -naccept 100000 \
		-accept "127.0.0.1:$SPORT" -cert "$CERT" -key "$KEY" "$1") \
		</dev/null >"$log" 2>&1 &
	local pid=$!
	at_exit "stop_pid $pid"
	watch_pid "$pid"
	wait_ports 10 "$pid" "$SPORT" || bail_out "openssl s_server $1 did not start"
}

# batch NAME PORT N C ARGS...: fetch /1 .. /N at -c C; all must succeed with
# the right bodies.
batch() {
	local name=$1 port=$2 n=$3 c=$4 i
	shift 4
	for ((i = 1; i <= n; i++)); do
		printf 'https://127.0.0.1:%s/%d\n' "$port" "$i"
	done >"$T/urls"
	rm -rf "$T/out"
	mkdir -p "$T/out"
	evf -c "$c" --cacert "$CA_FILE" --no-progress -i "$T/urls" -d "$T/out" \
		--report "$T/r.jsonl" "$@"
	is "$EVF_RC" 0 "$name: exit status 0"
	is "$(rep_count "$T/r.jsonl" 'r["ok"] is True')" "$n" "$name: all $n URLs ok"
	local bad=0 f
	for ((i = 1; i <= n; i += 97)); do
		f=$(rep_get "$T/r.jsonl" file "https://127.0.0.1:$port/$i")
		[ "$(cat "$f" 2>/dev/null)" = "file $i" ] || bad=$((bad + 1))
	done
	is "$bad" 0 "$name: the bodies are right"
}

for v in -tls1_2 -tls1_3; do
	start_s_server "$v"
	for c in 50 32; do
		batch "s_server $v, 500 URLs at -c $c" "$SPORT" 500 "$c" --connect-timeout 20
	done
	batch "s_server $v, 20 URLs at -c 5, no connect timeout" "$SPORT" 20 5
done

for v in --tls1.2 --tls1.3; do
	start_py_server_serial() {
		_start_py_server serialtls "$TOP_SRCDIR/tests/servers/serialtls.py" \
			--cert "$CERT" --key "$KEY" "$v"
	}
	start_py_server_serial
	for c in 50 32; do
		batch "http.server $v, 500 URLs at -c $c" "$SERVER_PORT" 500 "$c" --connect-timeout 20
	done
done

# --- connects that hang do not keep the slots ------------------------------------
# A listener that never accepts, with a backlog of one: after the first,
# its SYNs are dropped and connects hang until their timeout.  34 hosts on
# it (more than the 32 handshake slots) must not stall a good host.
BH=$T/blackhole.port
"$PYTHON3" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdout.close()
time.sleep(3600)' >"$BH" &
bh_pid=$!
at_exit "stop_pid $bh_pid"
watch_pid "$bh_pid"
for _ in $(seq 1 50); do [ -s "$BH" ] && break; sleep 0.1; done
BH_PORT=$(cat "$BH")
start_s_server -tls1_3
args=()
: >"$T/urls"
for i in $(seq 1 34); do
	args+=(--resolve "dead$i.test:$BH_PORT:127.0.0.1")
	echo "https://dead$i.test:$BH_PORT/x" >>"$T/urls"
done
for i in 1 2 3 4; do echo "https://127.0.0.1:$SPORT/$i" >>"$T/urls"; done
evf -c 100 --cacert "$CA_FILE" --no-progress --discard --connect-timeout 4 \
	--report "$T/bh.jsonl" -i "$T/urls" "${args[@]}"
is "$(rep_count "$T/bh.jsonl" 'r["ok"] and "127.0.0.1:" in r["url"]')" 4 \
	"34 hosts whose connects hang: the good host's 4 URLs still succeed"
is "$(rep_count "$T/bh.jsonl" 'not r["ok"] and r["error_kind"] == "timeout"')" 34 \
	"34 hosts whose connects hang: each of theirs times out"

# --- a TLS 1.3 server without tickets, slow to answer ------------------------------
_start_py_server serialtls "$TOP_SRCDIR/tests/servers/serialtls.py" \
	--cert "$CERT" --key "$KEY" --tls1.3 --threads --no-tickets
U=https://127.0.0.1:$SERVER_PORT
evf -c 4 --cacert "$CA_FILE" --no-progress --discard --connect-timeout 2 \
	--report "$T/nt.jsonl" "$U/slow/3/1" "$U/2" "$U/3" "$U/4"
is "$(rep_count "$T/nt.jsonl" 'r["ok"]')" 4 \
	"no tickets, the first response slow: the host's other connections do not wait for it"

done_testing
