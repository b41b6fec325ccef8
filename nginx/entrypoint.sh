#!/bin/sh
# Starts nginx, first writing the one range whose X-Forwarded-For it
# believes: the VPC's, known only at deploy time, from TRUSTED_PROXY_CIDR.
# The root filesystem is read-only, so the snippet goes to the /tmp tmpfs
# (NGINX_RUNTIME_DIR), where nginx.conf includes it from.
# Arguments are passed to nginx.
set -eu

cidr="${TRUSTED_PROXY_CIDR:-}"
case "$cidr" in
    "" | *[!0-9./]* | */*/*)
        echo "entrypoint: TRUSTED_PROXY_CIDR must be an IPv4 CIDR such as 10.0.0.0/16, got '$cidr'" >&2
        exit 64
        ;;
esac

printf 'set_real_ip_from %s;\n' "$cidr" > "${NGINX_RUNTIME_DIR:-/tmp}/real-ip.conf"
exec nginx "$@"
