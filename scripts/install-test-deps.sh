#!/usr/bin/env bash
# System packages the test suite drives for real: redis-server/redis-cli/redis-benchmark (the
# reference and the clients), avahi and python3-zeroconf (independent mDNS stacks), iproute2
# (network namespaces), shellcheck and systemd-analyze (install scripts and units), chromium (the
# web console, driven headless by puppeteer-core).
# Installs only what is missing; needs root (or sudo) when something is.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have redis-server || need+=(redis-server)
have redis-cli || need+=(redis-tools)
have ip || need+=(iproute2)
have nc || need+=(netcat-openbsd)
have curl || need+=(curl)
have tmux || need+=(tmux)
have avahi-daemon || need+=(avahi-daemon)
have avahi-browse || need+=(avahi-utils)
have dbus-daemon || need+=(dbus)
have shellcheck || need+=(shellcheck)
have systemd-analyze || need+=(systemd)
have chromium || need+=(chromium)
/usr/bin/python3 -c 'import zeroconf' >/dev/null 2>&1 || need+=(python3 python3-zeroconf)
[ "${#need[@]}" -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  have sudo || { echo "missing packages: ${need[*]} (run as root or install them with apt-get)" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing test dependencies: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
