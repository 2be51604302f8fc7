#!/usr/bin/env bash
# Runs `swift` with these arguments: the one on PATH (a Mac, or Linux with a Swift toolchain),
# else Debian trixie's Swift 6 (package swiftlang) in a chroot, which this script makes on
# first use. This project's machines run Debian bookworm, which has no Swift package and
# whose libc is too old for trixie's, hence the chroot. The chroot needs root, to make
# (debootstrap, then apt-get inside, from Debian's registry: about a minute here, 3.2 GB)
# and to enter (unshare and chroot).
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
making="$chroot_dir/.userpool-swift-making"
packages=(swiftlang libswiftlang libc6-dev)

fail() {
  echo "swift.sh: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || fail "no swift on PATH, and running Swift in its Debian chroot needs root: install Swift 6, or run as root"

make_chroot() {
  command -v apt-get >/dev/null || fail "no swift on PATH, and no apt-get to make the Swift chroot with: install Swift 6"
  if [ -e "$chroot_dir" ] && [ ! -e "$making" ] && [ -n "$(ls -A "$chroot_dir")" ]; then
    fail "$chroot_dir is not empty and not a Swift chroot this script made; move it, or set USERPOOL_SWIFT_CHROOT"
  fi
  echo "swift.sh: no swift on PATH; making a Debian trixie chroot with Swift 6 in $chroot_dir" >&2
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  # What an interrupted attempt left. Everything below mounts in a mount namespace of its
  # own, which the kernel takes down with its last process, so no mount outlives it.
  rm -rf --one-file-system "$chroot_dir"
  mkdir -p "$chroot_dir"
  touch "$making"
  unshare --mount --propagation private bash -c '
    set -euo pipefail
    debootstrap --variant=minbase trixie "$1" "$2" >/dev/null
    mountpoint -q "$1/proc" || mount -t proc proc "$1/proc"
    chroot "$1" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -qq --no-install-recommends "${@:3}" >/dev/null
    chroot "$1" swift --version 2>&1 | grep -m 1 "^Swift version" > "$1/.userpool-swift-ready.new"
  ' _ "$chroot_dir" "$mirror" "${packages[@]}"
  mv "$ready.new" "$ready"
  rm -f "$making"
  echo "swift.sh: $(cat "$ready")" >&2
}

if [ ! -f "$ready" ]; then
  mkdir -p "$(dirname "$chroot_dir")"
  # Two first runs at once make it once.
  exec 9> "$chroot_dir.lock"
  flock 9
  [ -f "$ready" ] || make_chroot
  exec 9>&-
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
exec unshare --mount --propagation private bash -c '
  set -euo pipefail
  chroot_dir="$1" workdir="$2"
  shift 2
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
