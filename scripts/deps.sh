#!/bin/sh
# Install every Debian package sluice needs to build and test.
#
# Idempotent: packages already present are not touched, and when everything
# is installed the script does nothing but say so.  Uses sudo when not root.
set -eu

PKGS="cmake ninja-build pkg-config make gcc clang-14 libclang-rt-14-dev
clang-format-14 librocksdb-dev libcurl4-openssl-dev libssl-dev libyaml-dev
libzstd-dev liblz4-dev libxxhash-dev libcmocka-dev libcjson-dev python3"

# A real S3 server for the s3 tests (tests/e2e/s3_client.sh, label s3):
# OpenStack Swift with its s3api layer, started by scripts/s3-server.sh.
S3_PKGS="swift swift-proxy swift-account swift-container swift-object
python3-lxml memcached"

missing=""
for p in $PKGS $S3_PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: need root or sudo to install:$missing" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
