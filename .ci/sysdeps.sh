#!/usr/bin/env bash
# System packages some tests use (Debian): LibreOffice reads DOC/WPS, unar/bsdtar open RAR,
# Chromium renders the HTML report, Noto CJK draws Chinese in it. Best effort: without root or
# apt-get the tests that need them skip with a message saying what to install.
set -u
need=()
command -v soffice  >/dev/null 2>&1 || need+=(libreoffice-writer-nogui)
command -v antiword >/dev/null 2>&1 || need+=(antiword)
command -v unar     >/dev/null 2>&1 || need+=(unar)
command -v bsdtar   >/dev/null 2>&1 || need+=(libarchive-tools)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "sysdeps: not root or no apt-get; tests needing ${need[*]} will skip" >&2
  exit 0
fi
echo "sysdeps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "sysdeps: could not install ${need[*]}; the tests that need them will skip" >&2
exit 0
