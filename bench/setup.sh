#!/usr/bin/env bash
# Bench-only dependencies: Scrapy (the crawl baseline) and psutil (process-tree memory) into the
# venv; from Debian, nginx (serves the fake site on 127.0.0.1) and AR PL UMing, a TrueType Song
# (Ming) face. The bench PDFs name STSong-Light without embedding it: a machine reading Chinese
# PDFs draws it with an installed Song face (SimSun, TrueType, on every Chinese office PC), and
# pdfium on Linux picks UMing for it (also when Noto CJK is installed too, as `make test` does).
# Without any CJK font pdfium drops characters from these PDFs' text (one-character cells such as
# 男/女 vanish, for leakscan and raw pypdfium2 alike), so the PDF figures would compare incomplete
# readings. Best effort: without nginx the crawl figures say "not available"; without the font the
# PDF figures are still measured (bench/README.md gives the figures under each font).
set -u
py="${1:-.venv/bin/python}"
"$py" -m pip install --quiet 'scrapy>=2.11' 'psutil>=5.9'
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
fc-list 2>/dev/null | grep -qi "AR PL UMing" || need+=(fonts-arphic-uming)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench: ${need[*]} missing and cannot apt-get install them (crawl figures need nginx)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
# policy-rc.d (if present) keeps the package from starting a system nginx; the bench runs its own.
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "bench: could not install ${need[*]} (crawl figures need nginx)" >&2
exit 0
