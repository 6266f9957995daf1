#!/usr/bin/env bash
# The main job, end to end: start a throwaway HTTPS server (nginx) on
# 127.0.0.1 with a CA made on the spot, fetch a few thousand URLs from it
# concurrently with the progress bar, print the summary, stop the server.
set -u
cd "$(dirname "$0")/.."
TOP_SRCDIR=$PWD
TOP_BUILDDIR=$PWD/build
N=${DEMO_URLS:-5000}
export TOP_SRCDIR TOP_BUILDDIR
. tests/lib/common.sh
. tests/lib/nginx.sh

start_nginx "$T/nginx" > "$T/nginx-setup.log"
echo "demo: nginx on https://127.0.0.1:$HTTPS_PORT/ with a fresh CA ($CA_FILE)"
for ((i = 0; i < N; i++)); do
	echo "https://127.0.0.1:$HTTPS_PORT/n/$i"
done > "$T/urls.txt"
echo "demo: fetching $N URLs, 100 at a time"
"$EVFETCH" -c 100 --cacert "$CA_FILE" -i "$T/urls.txt" -d "$T/out" \
	--report "$T/report.jsonl"
rc=$?
echo "demo: $(ls "$T/out" | wc -l) files saved, $(wc -l < "$T/report.jsonl") report lines;" \
	"first line:"
head -n 1 "$T/report.jsonl"
echo "demo: evfetch exited with $rc; stopping nginx"
TAP_DONE=1   # not a test: no TAP plan at exit
exit $rc
