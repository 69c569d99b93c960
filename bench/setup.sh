#!/usr/bin/env bash
# Bench-only dependencies: Scrapy (the crawl baseline) and psutil (process-tree memory) into the
# venv, nginx (serves the fake site on 127.0.0.1) from Debian. Best effort: without nginx the
# crawl figures say "not available".
set -u
py="${1:-.venv/bin/python}"
"$py" -m pip install --quiet 'scrapy>=2.11' 'psutil>=5.9'
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench: nginx missing and cannot apt-get install it; crawl figures will be unavailable" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
# policy-rc.d (if present) keeps the package from starting a system nginx; the bench runs its own.
apt-get install -y -qq --no-install-recommends nginx >/dev/null 2>&1 \
  || echo "bench: could not install nginx; crawl figures will be unavailable" >&2
exit 0
