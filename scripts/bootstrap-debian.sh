#!/bin/sh
# Install what evfetch needs to build and test on Debian 12, then build it.
# Runs apt-get as root, or through sudo when started as another user.
set -eu
cd "$(dirname "$0")/.."

# tests/integration/eyeballs.sh: iproute2 and nftables (a network namespace
# with a blackholed address).  Proxies: tinyproxy and squid for
# tests/integration/proxy.sh.
# HTTP/2: libnghttp2-dev for the library; h2o (a second HTTP/2 server) and
# nghttp2-client (h2load) for tests/integration/h2.sh and bench/run.sh.
pkgs="build-essential autoconf automake libtool pkg-config
      libevent-dev libssl-dev zlib1g-dev node-llhttp libnghttp2-dev libjansson-dev
      nginx h2o nghttp2-client python3 python3-h2 openssl curl ca-certificates
      procps parallel clang libclang-rt-dev valgrind
      iproute2 nftables tinyproxy squid"
[ "${EVFETCH_EXTRA_PKGS:-}" ] && pkgs="$pkgs $EVFETCH_EXTRA_PKGS"
# tests/integration/warc.sh reads the WARC files with warcio (npm), run by
# node 18 or later.  Debian's nodejs and npm only when no node (or npm) is
# there: a node from elsewhere brings its own npm, which Debian's npm
# package would conflict with.
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1 && pkgs="$pkgs npm"

if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "== installing:$missing"
	$SUDO apt-get update -q
	# nginx's and h2o's packages start system services; the tests never
	# use them (they run their own on free ports of 127.0.0.1)
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# warcio for tests/integration/warc.sh, as tests/warc/package-lock.json
# pins it; again only when the lock file changed since the last install.
stamp=tests/warc/node_modules/.evfetch-lock.sha256
lock=$(sha256sum tests/warc/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock" ]; then
	echo "== npm ci in tests/warc"
	npm ci --prefix tests/warc --no-audit --no-fund
	echo "$lock" >"$stamp"
fi

echo "== building"
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure --enable-werror
make -j"$(nproc)"
