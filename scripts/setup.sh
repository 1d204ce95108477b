#!/usr/bin/env bash
# Install what Tessera needs to build, run and test, from Debian's packages.
# Idempotent: does nothing when everything is present. Run as root (or with sudo).
set -euo pipefail

PKGS=(make gcc clang lld binutils qemu-system-x86 libcmocka-dev
      grub-pc-bin grub-efi-amd64-bin ovmf grub-common xorriso mtools python3 python3-matplotlib
      bochs bochsbios vgabios bochs-term procps
      spin valgrind)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        cmd="sudo sh -c '$cmd'"
    else
        echo "setup: missing packages: ${missing[*]}" >&2
        echo "setup: run as root:  $cmd" >&2
        exit 1
    fi
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
eval "$cmd" >&2
