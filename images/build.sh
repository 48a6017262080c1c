#!/usr/bin/env bash
# Build the images with buildah (no Docker engine needed) on a Debian bookworm base made with debootstrap:
#   images/build.sh [TAG]        -> localhost/riskops-{pipeline,serving,console}:TAG (TAG: dev)
# Production builds use the Dockerfile's default BASE (python:3.11 slim) with any OCI builder.
# Needs root (or a configured rootless buildah), buildah and debootstrap; the host's CA bundle is passed to
# the build as a secret, for networks that intercept TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-dev}"
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}" BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
base=localhost/riskops-base:bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ca="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  echo "== base: debootstrap bookworm (python3, venv, CA certificates) from $mirror"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  chroot "$work/rootfs" apt-get clean
  rm -rf "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  ctr="$(buildah from scratch)"
  buildah add "$ctr" "$work/rootfs.tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd python3 "$ctr"
  buildah commit --quiet "$ctr" "$base" >/dev/null
  buildah rm "$ctr" >/dev/null
fi

secret=()
[ -s "$ca" ] && secret=(--secret "id=ca,src=$ca")
for target in pipeline serving console; do
  echo "== $target"
  start=$SECONDS
  buildah bud --quiet --layers --target "$target" --build-arg "BASE=$base" "${secret[@]}" \
    -f images/Dockerfile -t "localhost/riskops-$target:$tag" . >/dev/null
  echo "   built in $((SECONDS - start)) s"
done
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -E "riskops-(base|pipeline|serving|console)"
