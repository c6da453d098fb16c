#!/bin/sh
# Installs the Debian packages portcullis needs to build, test and benchmark, when any is missing.
# apt-get runs as root (directly, or through sudo when available); nothing is done when all are
# present, so repeated `make` runs stay fast and offline.
set -eu
PKGS="build-essential cmake pkg-config clang clang-format libclang-rt-14-dev llvm
libuv1-dev libc-ares-dev libssl-dev libjansson-dev libidn2-dev libunistring-dev libpsl-dev libcmocka-dev
python3 curl git openssh-client openssh-server iproute2 util-linux procps openssl"
missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: missing packages:$missing (run as root or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
