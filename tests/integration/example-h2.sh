#!/bin/bash
# example-h2.sh - example.sh again, its nginx speaking HTTP/2 on the TLS port: the
# library in a caller's loop with streams for transfers (pause, resume,
# cancel and freeing the client with streams in flight included).
export NGINX_H2=1
exec bash "$(dirname "$0")/example.sh" "$@"
