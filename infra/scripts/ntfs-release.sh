#!/usr/bin/env bash
# ec2-reset-access: releases a Windows volume on a LINUX helper when the NTFS rescue
# (ntfs-rescue.sh) could not confirm that it was unmounted (UNMOUNT_FAILED, or a run that ended
# without its summary). The service sends it through SSM Run Command (AWS-RunShellScript) before it
# moves the volume anywhere: a volume detached while ntfs-3g still has it mounted can be left stuck
# "busy" or its file system corrupt (docs/aws-facts.md#volumes, domain/pipeline/phases/ntfs-release.ts).
#
# It finds the volume by its EBS volume id (NVMe serial, or the attach device name, as
# ntfs-rescue.sh does), unmounts every mount of the disk and its partitions (never lazily: a lazy
# unmount only hides a mount that ntfs-3g still writes through), waits for the ntfs-3g processes
# serving them to exit (ntfs-3g goes on flushing after umount returns), then checks that neither a
# mount nor such a process is left. It writes nothing to the volume itself.
#
# Inputs (environment, set by the header that buildNtfsReleaseCommands writes):
#   RA_JOB_ID RA_VOLUME_ID  RA_DEVICE_HINTS (default "/dev/sdf /dev/xvdf")
#   RA_NTFS_EXIT_WAIT_SECONDS (default 120): how long ntfs-3g may take to exit after umount.
# Test hook, never set in production: RA_DEV_ROOT (default /dev).
#
# Output: stdout carries exactly one line, the JSON summary; everything else goes to stderr.
#   {"ok":true,"script":"ntfs-release","helper":"linux","released":true,"volumeId":"vol-…","unmounted":[…]}
#   {"ok":false,"script":"ntfs-release","helper":"linux","released":false,"error":"CODE","message":"…"} (exit 1)
set -Eeuo pipefail
umask 077
export LC_ALL=C

RA_JOB_ID=${RA_JOB_ID:-}
RA_VOLUME_ID=${RA_VOLUME_ID:-}
RA_DEVICE_HINTS=${RA_DEVICE_HINTS:-/dev/sdf /dev/xvdf}
RA_NTFS_EXIT_WAIT_SECONDS=${RA_NTFS_EXIT_WAIT_SECONDS:-120}
RA_DEV_ROOT=${RA_DEV_ROOT:-/dev}

log() { printf 'ra: %s\n' "$*" >&2; }

# Sets REPLY to $1 as a JSON string literal.
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//[$'\001'-$'\037']/}
  REPLY="\"$s\""
}

fail() { # $1 code $2 message
  local code=$1
  json_str "$2"
  log "error $code: $2"
  printf '{"ok":false,"script":"ntfs-release","helper":"linux","released":false,"error":"%s","message":%s}\n' "$code" "$REPLY"
  exit 1
}

released() { # the unmounted mount points, as arguments
  local list="" m
  for m in "$@"; do
    json_str "$m"
    list+="${list:+,}$REPLY"
  done
  printf '{"ok":true,"script":"ntfs-release","helper":"linux","released":true,"volumeId":"%s","unmounted":[%s]}\n' "$RA_VOLUME_ID" "$list"
  exit 0
}

trap 'fail INTERNAL_ERROR "the release stopped unexpectedly at line $LINENO"' ERR

[[ $RA_JOB_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || fail INVALID_INPUT "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'"
[[ $RA_VOLUME_ID =~ ^vol-[0-9a-f]{8,32}$ ]] || fail INVALID_INPUT "RA_VOLUME_ID must look like vol-0123456789abcdef0"
[[ $RA_NTFS_EXIT_WAIT_SECONDS =~ ^[0-9]{1,4}$ ]] || fail INVALID_INPUT "RA_NTFS_EXIT_WAIT_SECONDS must be a number"
for tool in lsblk umount readlink; do
  command -v "$tool" >/dev/null 2>&1 || fail INVALID_INPUT "the helper has no '$tool' command"
done

# ---------------------------------------------------------------------------------------------------
# The disk: by the NVMe serial (the volume id without its dash), else the attach device name.

DISK=""
serial=${RA_VOLUME_ID//-/}
for alt in "$RA_DEV_ROOT/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial" "$RA_DEV_ROOT/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}_1"; do
  if [[ -e $alt ]]; then
    DISK=$(readlink -f -- "$alt")
    break
  fi
done
if [[ -z $DISK && $RA_DEV_ROOT == /dev ]]; then
  for s in /sys/block/nvme*/device/serial; do
    [[ -r $s ]] || continue
    if [[ $(tr -d ' \n' <"$s") == "$serial" ]]; then
      name=${s#/sys/block/}
      DISK=/dev/${name%%/*}
      break
    fi
  done
fi
if [[ -z $DISK ]]; then
  for hint in $RA_DEVICE_HINTS; do
    for alt in "$hint" "${hint/#\/dev\/sd//dev/xvd}" "${hint/#\/dev\/xvd//dev/sd}"; do
      candidate=$RA_DEV_ROOT/${alt#/dev/}
      [[ -e $candidate ]] || continue
      resolved=$(readlink -f -- "$candidate")
      [[ -b $resolved ]] || continue
      # An NVMe disk whose serial is another volume's is not this one.
      if [[ ${resolved##*/} == nvme* && -r /sys/block/${resolved##*/}/device/serial ]]; then
        [[ $(tr -d ' \n' <"/sys/block/${resolved##*/}/device/serial") == "$serial" ]] || continue
      fi
      DISK=$resolved
      break 2
    done
  done
fi
# The OS does not see the volume at all: nothing of it can be mounted here.
[[ -n $DISK ]] || released

# The disk and its partitions, as block device paths.
declare -A DEVICES=()
while read -r dev; do
  [[ -n $dev ]] && DEVICES[$dev]=1
done < <(lsblk -nrpo NAME "$DISK" 2>/dev/null || printf '%s\n' "$DISK")
DEVICES[$DISK]=1

# Mount points whose source is one of them (from /proc/mounts; octal escapes decoded).
mounts_of_volume() {
  local src target rest
  MOUNTS=()
  while read -r src target rest; do
    [[ $src == /* ]] || continue
    src=$(readlink -f -- "$(printf '%b' "$src")" 2>/dev/null || printf '%s' "$src")
    [[ -n ${DEVICES[$src]:-} ]] && MOUNTS+=("$(printf '%b' "$target")")
  done </proc/mounts
  return 0
}

# Pids of ntfs-3g processes whose command line names one of the devices.
ntfs_processes() {
  local d comm cmd dev
  PIDS=()
  for d in /proc/[0-9]*; do
    read -r comm <"$d/comm" 2>/dev/null || continue
    [[ $comm == *ntfs-3g* ]] || continue
    cmd=$(tr '\0' '\n' <"$d/cmdline" 2>/dev/null) || continue
    for dev in "${!DEVICES[@]}"; do
      if [[ $'\n'$cmd$'\n' == *$'\n'"$dev"$'\n'* ]]; then
        PIDS+=("${d#/proc/}")
        break
      fi
    done
  done
  return 0
}

# Whether process $1 is still running (a zombie has exited: its flushing is done).
alive() {
  local stat
  read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

UNMOUNTED=()
mounts_of_volume
# Newest mounts last in /proc/mounts: unmount from the end.
for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
  mp=${MOUNTS[i]}
  if umount -- "$mp" 2>/dev/null || { sync && sleep 1 && umount -- "$mp"; }; then
    UNMOUNTED+=("$mp")
  else
    log "could not unmount $mp"
  fi
done

# A mount left (something holds it open): ntfs-3g goes on serving it, no need to wait for it.
mounts_of_volume
((${#MOUNTS[@]} == 0)) || fail STILL_MOUNTED "$DISK is still mounted at ${MOUNTS[*]}"

deadline=$((SECONDS + RA_NTFS_EXIT_WAIT_SECONDS))
while :; do
  ntfs_processes
  left=()
  for pid in "${PIDS[@]}"; do alive "$pid" && left+=("$pid"); done
  ((${#left[@]} == 0)) && break
  ((SECONDS < deadline)) || fail STILL_MOUNTED "ntfs-3g (pid ${left[*]}) still serves $DISK ${RA_NTFS_EXIT_WAIT_SECONDS}s after the unmount"
  sleep 0.2
done

mounts_of_volume
((${#MOUNTS[@]} == 0)) || fail STILL_MOUNTED "$DISK was mounted again at ${MOUNTS[*]}"
sync
for mp in "${UNMOUNTED[@]}"; do log "unmounted $mp"; done
released "${UNMOUNTED[@]}"
