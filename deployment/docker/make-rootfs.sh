#!/bin/bash
# Assemble the runtime root filesystem of the agency-ha image: the binary, every shared object it
# loads (its ldd closure, the dynamic loader included), the CA bundle, passwd/group with the
# non-root user 65532, nsswitch.conf and hosts, an empty /tmp. Nothing else: no shell, no
# coreutils, no package manager. The Dockerfile runs it in its build stage and copies the result
# into a `FROM scratch` image; the chart tests run the same script and chroot into the result, so
# the image's contents are tested without a Docker engine.
#
# usage: make-rootfs.sh BINARY OUTDIR      (OUTDIR must not exist or be empty)
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: make-rootfs.sh BINARY OUTDIR" >&2
  exit 2
fi
bin=$1
out=$2
if [ ! -x "$bin" ]; then
  echo "make-rootfs: $bin: not an executable file" >&2
  exit 2
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "make-rootfs: $out: exists and is not empty" >&2
  exit 2
fi
mkdir -p "$out/usr/local/bin" "$out/etc/ssl/certs" "$out/tmp" "$out/proc"
chmod 1777 "$out/tmp"
cp "$bin" "$out/usr/local/bin/agency-ha"

# `ldd` lines: "libx.so.N => /path/libx.so.N (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)", and
# "linux-vdso.so.1 (0x…)" (in the kernel, nothing to copy). A "not found" is an error.
libs=$(ldd "$bin")
if grep -q "not found" <<<"$libs"; then
  echo "make-rootfs: unresolved libraries:" >&2
  grep "not found" <<<"$libs" >&2
  exit 1
fi
while read -r lib; do
  [ -n "$lib" ] || continue
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$libs" | sort -u)

cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/nonexistent\nnonroot:x:65532:65532:nonroot:/nonexistent:/nonexistent\n' \
  >"$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$out/etc/nsswitch.conf"
# Kubernetes mounts its own /etc/hosts and /etc/resolv.conf; this one serves plain runs.
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$out/etc/hosts"
