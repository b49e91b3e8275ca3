#!/bin/sh
# Before Tillflow starts (the unit's ExecStartPre): is its data dir there, mounted and writable?
# Says plainly what is wrong and exits 1, so the shop never starts on an empty data dir on the SD
# card (a new, empty database) while its USB drive is unplugged, unmounted or read-only.
#
#   check-data-dir.sh [--require-mount] [DIR]     (DIR defaults to $TILLFLOW_DATA_DIR)
#
# --require-mount: DIR itself must be a mount point (the drive is mounted there, see README).
set -u

require_mount=no
if [ "${1:-}" = "--require-mount" ]; then
  require_mount=yes
  shift
fi
dir="${1:-${TILLFLOW_DATA_DIR:-}}"

fail() {
  echo "tillflow: $*" >&2
  exit 1
}

[ -n "$dir" ] || fail "no data dir given: check-data-dir.sh [--require-mount] DIR (or set TILLFLOW_DATA_DIR)"
[ -e "$dir" ] || fail "the data dir $dir does not exist. Is the USB drive plugged in and mounted? (lsblk; sudo mount $dir)"
[ -d "$dir" ] || fail "the data dir $dir is not a directory (a file is in its place)"
if [ "$require_mount" = yes ] && ! mountpoint -q "$dir"; then
  fail "nothing is mounted at $dir: the USB drive is unplugged or not mounted, and Tillflow would start on an empty data dir on the SD card. Plug it in and run: sudo mount $dir (see /etc/fstab)"
fi

probe="$dir/.tillflow-write-check.$$"
if ! error=$( (: >"$probe") 2>&1); then
  case "$error" in
  *"Read-only"*) fail "the data dir $dir is read-only (a USB drive is remounted read-only after I/O errors: check dmesg, then fsck the drive)" ;;
  *) fail "cannot write to the data dir $dir as $(id -un): ${error##*: } (sudo chown -R $(id -un): $dir)" ;;
  esac
fi
rm -f "$probe"
echo "tillflow: data dir $dir is ready"
