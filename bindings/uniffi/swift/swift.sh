#!/usr/bin/env bash
# Runs `swift` with these arguments: the one on PATH (a Mac, or Linux with a Swift toolchain),
# else Debian trixie's Swift 6 (package swiftlang) in a chroot, which this script makes on
# first use. This project's machines run Debian bookworm, which has no Swift package and
# whose libc is too old for trixie's, hence the chroot. Making it needs root and Debian's
# package registry: debootstrap, then apt-get inside (about a minute here, 3.2 GB).
#
#   bash swift.sh test --package-path bindings/uniffi/swift
#
# USERPOOL_SWIFT_CHROOT sets where the chroot lives (default ~/.cache/userpool/swift-trixie),
# USERPOOL_DEBIAN_MIRROR the mirror it comes from. Inside, the working directory, the
# repository and the cargo target directory (CARGO_TARGET_DIR or the workspace's) are
# mounted at the same paths, so paths given as arguments mean the same thing there.
set -euo pipefail

if command -v swift >/dev/null 2>&1; then
  exec swift "$@"
fi

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
chroot_dir="${USERPOOL_SWIFT_CHROOT:-$HOME/.cache/userpool/swift-trixie}"
mirror="${USERPOOL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ready="$chroot_dir/.userpool-swift-ready"
packages=(swiftlang libswiftlang libc6-dev)

fail() {
  echo "swift.sh: $*" >&2
  exit 1
}

if [ ! -f "$ready" ]; then
  [ "$(id -u)" = 0 ] || fail "no swift on PATH, and making the Swift chroot needs root: install Swift 6, or run this as root once"
  command -v apt-get >/dev/null || fail "no swift on PATH, and no apt-get to make the Swift chroot with: install Swift 6"
  echo "swift.sh: no swift on PATH; making a Debian trixie chroot with Swift 6 in $chroot_dir" >&2
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  rm -rf "$chroot_dir"
  mkdir -p "$chroot_dir"
  debootstrap --variant=minbase trixie "$chroot_dir" "$mirror" >/dev/null
  # proc for apt's and dpkg's helpers; a private mount namespace takes it away afterwards.
  unshare --mount --propagation private bash -c '
    mount -t proc proc "$1/proc"
    chroot "$1" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -qq --no-install-recommends "${@:2}" >/dev/null
    chroot "$1" swift --version 2>&1 | grep -m 1 "Swift version" > "$1/.userpool-swift-ready.new"
  ' _ "$chroot_dir" "${packages[@]}"
  mv "$ready.new" "$ready"
  echo "swift.sh: $(cat "$ready")" >&2
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"
binds=("$root")
for dir in "$target_dir" "$PWD"; do
  case "$dir/" in
    "$root"/*) ;;
    *) binds+=("$dir") ;;
  esac
done
# Each directory is bound at its own path inside; a private mount namespace drops the
# bindings when the command ends, whatever way it ends.
exec unshare --mount --propagation private bash -c '
  chroot_dir="$1" workdir="$2"; shift 2
  mount -t proc proc "$chroot_dir/proc"
  mount --bind /dev "$chroot_dir/dev"
  while [ "$1" != -- ]; do
    mkdir -p "$chroot_dir$1"
    mount --bind "$1" "$chroot_dir$1"
    shift
  done
  shift
  exec chroot "$chroot_dir" bash -c "cd \"\$0\" && exec swift \"\$@\"" "$workdir" "$@"
' _ "$chroot_dir" "$PWD" "${binds[@]}" -- "$@"
