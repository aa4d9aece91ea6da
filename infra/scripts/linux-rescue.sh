#!/usr/bin/env bash
# ec2-reset-access: Linux rescue script. Runs as root on the helper instance through SSM Run Command
# (AWS-RunShellScript) while the target's root volume is attached to the helper.
#
# It finds the target's volume by its volume id, mounts its root filesystem, picks ONE login account
# (the one asked for, else the instance's default login account, else root when sshd lets root in
# with a key it already uses), and appends one public key line to the authorized_keys file sshd
# reads for that account. The key is either the caller's own public key (RA_PUBLIC_KEY: nothing
# secret exists anywhere) or a pair generated here on the helper, whose private half goes to
# Parameter Store (SecureString). No other account and no other line is touched: an existing file
# is appended to in place (owner, mode, SELinux context, ACLs and every other byte kept).
#
# Online mode (RA_TARGET_ROOT set, usually to "/"): the same account choice and append rules applied
# to a running system through SSM Run Command on the target itself. The public key comes in
# (RA_PUBLIC_KEY): made by the service (its private half already stored), or the caller's own
# (RA_KEY_SOURCE=caller). No device lookup, no mount, no key generation, no Parameter Store.
#
# Inputs (environment, set by the header that buildLinuxRescueCommands writes):
#   RA_JOB_ID RA_TARGET_INSTANCE_ID RA_VOLUME_ID RA_REGION
#   RA_USER (optional: the account to give the key to)
#   RA_PUBLIC_KEY (optional: the caller's key line, options prefix allowed; then nothing is generated
#     and RA_PARAMETER_NAME, RA_KEY_TYPE and RA_KMS_KEY_ID are not used)
#   RA_PARAMETER_NAME RA_KEY_TYPE (ed25519 | rsa, default ed25519) RA_KMS_KEY_ID (optional)
#   RA_DEVICE_HINTS (default "/dev/sdf /dev/xvdf")  RA_DEVICE_WAIT_SECONDS (default 30)
# Online mode (buildLinuxOnlineCommands): RA_JOB_ID RA_TARGET_INSTANCE_ID RA_TARGET_ROOT RA_PUBLIC_KEY
#   RA_USER (optional) RA_KEY_SOURCE (caller | generated, default generated)
# Test hooks, never set in production: RA_DEV_ROOT (default /dev), RA_MOUNT_BASE (default /mnt),
#   RA_SKIP_HELPER_ROOT_CHECK.
#
# Output: stdout carries exactly one line, the JSON summary, {"ok":true,...} or
# {"ok":false,"error":"<CODE>","message":"..."} with a non-zero exit. SSM returns only the first
# 24,000 characters of stdout (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html),
# so everything else, every tool's output included, goes to stderr.
# A generated private key is never printed and never written anywhere but a private temporary
# directory (tmpfs when available) that is removed on exit.
set -Eeuo pipefail
umask 077
export LC_ALL=C
export AWS_PAGER=""
export LVM_SUPPRESS_FD_WARNINGS=1
# fd 3 is the real stdout, kept for the summary alone; whatever any command prints goes to stderr.
exec 3>&1 1>&2

RA_JOB_ID=${RA_JOB_ID:-}
RA_TARGET_INSTANCE_ID=${RA_TARGET_INSTANCE_ID:-}
RA_VOLUME_ID=${RA_VOLUME_ID:-}
RA_PARAMETER_NAME=${RA_PARAMETER_NAME:-}
RA_REGION=${RA_REGION:-}
RA_KEY_TYPE=${RA_KEY_TYPE:-ed25519}
RA_KMS_KEY_ID=${RA_KMS_KEY_ID:-}
RA_DEVICE_HINTS=${RA_DEVICE_HINTS:-/dev/sdf /dev/xvdf}
RA_DEVICE_WAIT_SECONDS=${RA_DEVICE_WAIT_SECONDS:-30}
RA_DEV_ROOT=${RA_DEV_ROOT:-/dev}
RA_MOUNT_BASE=${RA_MOUNT_BASE:-/mnt}
RA_SKIP_HELPER_ROOT_CHECK=${RA_SKIP_HELPER_ROOT_CHECK:-}
RA_TARGET_ROOT=${RA_TARGET_ROOT:-}
RA_PUBLIC_KEY=${RA_PUBLIC_KEY:-}
RA_USER=${RA_USER:-}
RA_KEY_SOURCE=${RA_KEY_SOURCE:-}

# fstab mount points that may hold authorized_keys files (separate /home partition, btrfs home subvolume).
EXTRA_MOUNT_POINTS=" /home /root /var /var/home /srv /opt "
# Contexts for what the script creates when the volume's own SELinux policy has no entry for the
# path: the types sshd may read keys from and a home directory has in the reference policy
# (https://github.com/SELinuxProject/refpolicy/blob/main/policy/modules/services/ssh.fc,
# https://github.com/SELinuxProject/refpolicy/blob/main/policy/modules/system/userdomain.fc).
SSH_HOME_CONTEXT="system_u:object_r:ssh_home_t:s0"
USER_HOME_DIR_CONTEXT="system_u:object_r:user_home_dir_t:s0"
# GPT partition types of a Linux root (x86-64, arm64), tried first when looking for the root.
ROOT_PART_TYPES=" 4f68bce3-e8cd-4db1-96e7-fbcaf984b709 b921b045-1df0-41c3-af44-4c6f280d3fae "
# Nothing on the customer's volume may act as a device, a setuid program or an executable here.
MOUNT_SAFETY="nodev,nosuid,noexec"
MAX_KEY_LINE=8192

RESULT_PRINTED=0
ERR_LINE=""
WORK=""
MNT=""
PROBE=""
MOUNTED=()
LOOPS=()
ACTIVE_VGS=()
LVM_CFG=""

log() { printf 'ra: %s\n' "$*" >&2; }

# The summary line: the only thing this script writes to the real stdout.
emit() { printf '%s\n' "$1" >&3; }

JSON=""
# Appends "$1": "$2" (a JSON string) to JSON.
jfield() {
  json_str "$2"
  JSON+=",\"$1\":$REPLY"
}

# Sets REPLY to $1 as a JSON string literal. (No subshells: forks are what makes this script slow.)
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

# Unmounts, deactivates and detaches everything this run set up, newest first. Idempotent.
cleanup() {
  local i rc=0
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    if ! umount "${MOUNTED[i]}" 2>/dev/null; then
      sync
      sleep 1
      if ! umount "${MOUNTED[i]}"; then
        log "could not unmount ${MOUNTED[i]}"
        rc=1
        continue
      fi
    fi
    unset 'MOUNTED[i]'
  done
  MOUNTED=("${MOUNTED[@]}")
  for ((i = ${#LOOPS[@]} - 1; i >= 0; i--)); do
    if losetup -d "${LOOPS[i]}"; then unset 'LOOPS[i]'; else rc=1; fi
  done
  LOOPS=("${LOOPS[@]}")
  for ((i = ${#ACTIVE_VGS[@]} - 1; i >= 0; i--)); do
    if lvm vgchange --config "$LVM_CFG" -an "${ACTIVE_VGS[i]}"; then unset 'ACTIVE_VGS[i]'; else rc=1; fi
  done
  ACTIVE_VGS=("${ACTIVE_VGS[@]}")
  # Online mode: MNT is the running system's root, never ours to remove.
  if ((rc == 0)) && [[ -n $MNT && -z $RA_TARGET_ROOT ]]; then
    rmdir "$MNT" "$PROBE" 2>/dev/null || true
    rmdir "${MNT%/*}" 2>/dev/null || true
  fi
  if [[ -n $WORK ]]; then
    rm -rf -- "$WORK"
    WORK=""
  fi
  return "$rc"
}

fail() {
  local code=$1 msg=$2
  log "error $code: $msg"
  cleanup || log "cleanup after the failure was incomplete"
  RESULT_PRINTED=1
  json_str "$code"
  code=$REPLY
  json_str "$msg"
  emit "{\"ok\":false,\"error\":$code,\"message\":$REPLY}"
  exit 1
}

on_exit() {
  local rc=$?
  if ((RESULT_PRINTED == 0)); then
    cleanup || true
    RESULT_PRINTED=1
    json_str "the rescue script stopped unexpectedly (exit $rc, line ${ERR_LINE:-unknown})"
    emit "{\"ok\":false,\"error\":\"INTERNAL_ERROR\",\"message\":$REPLY}"
    exit 1
  fi
  cleanup || true
}
trap on_exit EXIT
trap 'ERR_LINE=$LINENO' ERR
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------------------------------
# Paths inside the volume. Every path the script reads or writes on the volume goes through
# resolve_in_root, which follows symlinks as if the volume were "/": an absolute link on the
# customer's disk must never lead a root process on the helper to the helper's own files.

RESOLVED=""
VOL_FILE=""
# Sets RESOLVED to the volume path $1 with every symlink followed inside the volume. Returns 1 after
# too many links, 2 when a ".." climbs above the volume's root (a path that tries to leave it).
resolve_in_root() {
  local out="" comp target hops=0
  local -a rest tparts
  IFS=/ read -r -a rest <<<"${1#/}"
  while ((${#rest[@]} > 0)); do
    comp=${rest[0]}
    rest=("${rest[@]:1}")
    case $comp in
      '' | .) continue ;;
      ..)
        [[ -n $out ]] || return 2
        out=${out%/*}
        continue
        ;;
    esac
    if [[ -L $MNT$out/$comp ]]; then
      hops=$((hops + 1))
      ((hops <= 40)) || return 1
      target=$(readlink -- "$MNT$out/$comp")
      [[ $target == /* ]] && out=""
      tparts=()
      IFS=/ read -r -a tparts <<<"${target#/}"
      rest=("${tparts[@]}" "${rest[@]}")
    else
      out=$out/$comp
    fi
  done
  RESOLVED=${out:-/}
}

# Sets VOL_FILE to the resolved volume path of $1 when it is a regular file, or fails.
vol_file() {
  resolve_in_root "$1" || return 1
  [[ -f $MNT$RESOLVED ]] || return 1
  VOL_FILE=$RESOLVED
}

# ---------------------------------------------------------------------------------------------------
# Inputs

JOB_ID_RE='^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'
# A POSIX-portable user name as shadow-utils' useradd accepts it by default (at most 32 characters).
USER_RE='^[a-z_][a-z0-9_-]*[$]?$'
KEY_SOURCE=generated

validate_common_inputs() {
  [[ $RA_JOB_ID =~ $JOB_ID_RE ]] || fail INVALID_INPUT "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'"
  if [[ -n $RA_USER ]] && ! [[ $RA_USER =~ $USER_RE && ${#RA_USER} -le 32 ]]; then
    fail INVALID_INPUT "RA_USER must be a user name: lower-case letters, digits, '_', '-' (a final '\$' allowed), starting with a letter or '_', at most 32 characters"
  fi
}

validate_inputs() {
  validate_common_inputs
  [[ $RA_VOLUME_ID =~ ^vol-[0-9a-f]{8,32}$ ]] || fail INVALID_INPUT "RA_VOLUME_ID must look like vol-0123456789abcdef0"
  if [[ -n $RA_PUBLIC_KEY ]]; then
    KEY_SOURCE=caller
  else
    [[ $RA_PARAMETER_NAME == /* ]] || fail INVALID_INPUT "RA_PARAMETER_NAME must be an absolute parameter name"
    case $RA_KEY_TYPE in ed25519 | rsa) ;; *) fail INVALID_INPUT "RA_KEY_TYPE must be ed25519 or rsa" ;; esac
  fi
  [[ $RA_DEVICE_WAIT_SECONDS =~ ^[0-9]+$ ]] || fail INVALID_INPUT "RA_DEVICE_WAIT_SECONDS must be a number"
  local tool
  for tool in blkid lsblk mount umount losetup ssh-keygen aws awk findmnt tail; do
    command -v "$tool" >/dev/null 2>&1 || fail INVALID_INPUT "the helper has no '$tool' command"
  done
}

make_workdir() {
  local base=${TMPDIR:-/tmp}
  [[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
  WORK=$(mktemp -d "$base/ra-rescue.XXXXXXXX")
  if [[ -n $RA_TARGET_ROOT ]]; then
    # Online: the tree is already there; "/" becomes the empty prefix.
    MNT=${RA_TARGET_ROOT%/}
    return 0
  fi
  MNT=$RA_MOUNT_BASE/ra-$RA_JOB_ID/root
  PROBE=$RA_MOUNT_BASE/ra-$RA_JOB_ID/probe
  mkdir -p "$MNT" "$PROBE"
}

validate_online_inputs() {
  validate_common_inputs
  [[ $RA_TARGET_ROOT == /* && -d $RA_TARGET_ROOT ]] || fail INVALID_INPUT "RA_TARGET_ROOT must be an existing absolute directory"
  case $RA_KEY_SOURCE in
    '' | generated)
      KEY_SOURCE=generated
      local key_re='^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( [^[:cntrl:]]*)?$'
      [[ $RA_PUBLIC_KEY =~ $key_re ]] || fail INVALID_INPUT "RA_PUBLIC_KEY must be one OpenSSH public key line (ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)"
      ;;
    caller) KEY_SOURCE=caller ;;
    *) fail INVALID_INPUT "RA_KEY_SOURCE must be caller or generated" ;;
  esac
  local tool
  for tool in awk sed grep tail; do
    command -v "$tool" >/dev/null 2>&1 || fail INVALID_INPUT "the instance has no '$tool' command"
  done
}

# ---------------------------------------------------------------------------------------------------
# Device discovery

DEVICE=""
DISK=""

nvme_serial_mismatch() { # $1 resolved device; true when it is an NVMe disk whose serial is another volume's
  local name=${1##*/} s
  [[ $name == nvme* ]] || return 1
  [[ -r /sys/block/$name/device/serial ]] || return 1
  s=$(tr -d ' \n' <"/sys/block/$name/device/serial")
  [[ -n $s && $s != "${RA_VOLUME_ID//-/}" ]]
}

try_device() { # $1 path under RA_DEV_ROOT; sets DEVICE/DISK when it is a block device
  local resolved
  [[ -e $1 ]] || return 1
  resolved=$(readlink -f -- "$1")
  [[ -b $resolved ]] || return 1
  DEVICE=$1
  DISK=$resolved
}

find_device() {
  local serial=${RA_VOLUME_ID//-/} deadline=$((SECONDS + RA_DEVICE_WAIT_SECONDS)) hint alt s name
  while :; do
    # Nitro: the NVMe serial is the volume id without its dash.
    for alt in "$RA_DEV_ROOT/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial" \
      "$RA_DEV_ROOT/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}_1"; do
      try_device "$alt" && return 0
    done
    if [[ $RA_DEV_ROOT == /dev ]]; then
      for s in /sys/block/nvme*/device/serial; do
        [[ -r $s ]] || continue
        if [[ $(tr -d ' \n' <"$s") == "$serial" ]]; then
          name=${s#/sys/block/}
          try_device "/dev/${name%%/*}" && return 0
        fi
      done
    fi
    # Xen: the device name given at attach time, which the kernel may call xvdX instead of sdX.
    for hint in $RA_DEVICE_HINTS; do
      for alt in "$hint" "${hint/#\/dev\/sd//dev/xvd}" "${hint/#\/dev\/xvd//dev/sd}"; do
        if try_device "$RA_DEV_ROOT/${alt#/dev/}"; then
          if nvme_serial_mismatch "$DISK"; then
            log "$alt is another volume, not $RA_VOLUME_ID"
            DEVICE=""
            DISK=""
            continue
          fi
          return 0
        fi
      done
    done
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}

helper_root_disks() {
  local src
  src=$(findmnt -no SOURCE / 2>/dev/null || true)
  src=${src%%\[*}
  [[ $src == /dev/* ]] || return 0
  lsblk -nlpso NAME,TYPE "$src" 2>/dev/null | awk '$2 == "disk" || $2 == "loop" { print $1 }' || true
}

check_not_helper_root() {
  [[ -n $RA_SKIP_HELPER_ROOT_CHECK ]] && return 0
  local d root_dev
  while IFS= read -r d; do
    [[ -n $d ]] || continue
    if [[ $(readlink -f -- "$d") == "$DISK" ]]; then
      fail DEVICE_NOT_FOUND "$DEVICE resolves to $DISK, the helper's own root disk: refusing to use it for $RA_VOLUME_ID"
    fi
  done < <(helper_root_disks)
  root_dev=$(mountpoint -d / 2>/dev/null || true)
  if [[ -n $root_dev ]] && lsblk -nlpo MAJ:MIN "$DISK" | tr -d ' ' | grep -qxF -- "$root_dev"; then
    fail DEVICE_NOT_FOUND "$DEVICE ($DISK) holds the helper's own root filesystem: refusing to use it for $RA_VOLUME_ID"
  fi
}

# A partition of the volume mounted on the helper means the helper may be running from it, or a
# previous run of this job died before its cleanup: unmount only our own job's mount points.
check_not_mounted() {
  local name mp
  while read -r name mp; do
    [[ -n $mp ]] || continue
    if [[ $mp == "$RA_MOUNT_BASE/ra-$RA_JOB_ID/"* ]]; then
      log "unmounting $mp left by an earlier run of this job"
      umount "$mp" || fail MOUNT_FAILED "$name is still mounted at $mp by an earlier run and cannot be unmounted"
    else
      fail MOUNT_FAILED "$name of $RA_VOLUME_ID is already mounted on the helper at $mp"
    fi
  done < <(lsblk -nlpo NAME,MOUNTPOINT "$DISK")
}

# ---------------------------------------------------------------------------------------------------
# Filesystems

declare -A FS_TYPE=() FS_UUID=() FS_LABEL=() P_UUID=() P_TYPE=() P_NAME=() LV_OF=() LV_DM=()
BLOCKS=()   # partitions, or the whole disk, in disk order
FS_CANDS=() # devices with a filesystem this script can mount
PVS=()
SEEN_TYPES=""
LVM_NOTE=""
LVM_MODE=""

probe_block() { # $1 device: fills the FS_* and P_* maps from a low-level blkid probe
  local line key val
  FS_TYPE[$1]=""
  while IFS= read -r line; do
    key=${line%%=*}
    val=${line#*=}
    case $key in
      TYPE) FS_TYPE[$1]=$val ;;
      UUID) FS_UUID[$1]=${val,,} ;;
      LABEL) FS_LABEL[$1]=$val ;;
      PART_ENTRY_UUID) P_UUID[$1]=${val,,} ;;
      PART_ENTRY_TYPE) P_TYPE[$1]=${val,,} ;;
      PART_ENTRY_NAME) P_NAME[$1]=$val ;;
    esac
  done < <(blkid -p -o export "$1" 2>/dev/null || true)
}

list_blocks() {
  mapfile -t BLOCKS < <(lsblk -lnpo NAME,TYPE "$DISK" | awk '$2 == "part" { print $1 }')
  if ((${#BLOCKS[@]} == 0)) && [[ -n $(blkid -p -o value -s PTTYPE "$DISK" 2>/dev/null || true) ]]; then
    # A partition table the kernel has not read yet (no udev, or a race just after attach).
    partx -a "$DISK" >&2 2>/dev/null || true
    mapfile -t BLOCKS < <(lsblk -lnpo NAME,TYPE "$DISK" | awk '$2 == "part" { print $1 }')
  fi
  ((${#BLOCKS[@]} > 0)) || BLOCKS=("$DISK")
}

classify_blocks() {
  local dev t
  for dev in "$@"; do
    probe_block "$dev"
    t=${FS_TYPE[$dev]}
    SEEN_TYPES+="${SEEN_TYPES:+, }${dev##*/}: ${t:-none}"
    case $t in
      ext2 | ext3 | ext4 | xfs | btrfs) FS_CANDS+=("$dev") ;;
      LVM2_member) PVS+=("$dev") ;;
    esac
  done
}

MAPPED_DEV=""
map_lv_with_loop() { # $1 seg_pe_ranges $2 extent size: sets MAPPED_DEV, a read-write loop over a linear LV
  local pv=${1%%:*} range=${1#*:} first last pe_start dev
  MAPPED_DEV=""
  [[ $range =~ ^([0-9]+)-([0-9]+)$ ]] || return 1
  first=${BASH_REMATCH[1]}
  last=${BASH_REMATCH[2]}
  pe_start=$(lvm pvs --config "$LVM_CFG" --noheadings --units b --nosuffix -o pe_start "$pv" 2>/dev/null | tr -d ' ')
  [[ $pe_start =~ ^[0-9]+$ ]] || return 1
  dev=$(losetup --find --show --offset $((pe_start + first * $2)) --sizelimit $(((last - first + 1) * $2)) "$pv") || return 1
  LOOPS+=("$dev")
  MAPPED_DEV=$dev
}

setup_lvm() {
  ((${#PVS[@]} > 0)) || return 0
  if ! command -v lvm >/dev/null 2>&1; then
    LVM_NOTE="the volume uses LVM but lvm2 is not installed on the helper"
    return 0
  fi
  local filt="" pv
  for pv in "${PVS[@]}"; do filt+="\"a|^$pv\$|\","; done
  # Only the target's PVs are visible to these commands: a VG whose name clashes with one of the
  # helper's is unambiguous here, and nothing on the helper is touched.
  LVM_CFG="devices{use_devicesfile=0 filter=[${filt}\"r|.*|\"] global_filter=[${filt}\"r|.*|\"]}"
  [[ -e /run/udev/control ]] || LVM_CFG+=" activation{udev_sync=0 udev_rules=0}"
  local segs
  if ! segs=$(lvm lvs --config "$LVM_CFG" --segments --noheadings --separator '|' --units b --nosuffix \
    -o vg_name,lv_name,lv_dm_path,segtype,seg_pe_ranges,vg_extent_size 2>"$WORK/lvm.err"); then
    LVM_NOTE="lvs failed: $(sed -n 1p "$WORK/lvm.err")"
    return 0
  fi
  local -A seg_count=() seg_line=() vg_clash=()
  local -a lvs_order=() vgs_order=()
  local vg lv dm segtype ranges extent key
  while IFS='|' read -r vg lv dm segtype ranges extent; do
    vg=${vg#"${vg%%[![:space:]]*}"}
    [[ -n $vg && -n $lv ]] || continue
    key=$vg/$lv
    if [[ -z ${seg_count[$key]:-} ]]; then
      lvs_order+=("$key")
      seg_count[$key]=0
      [[ " ${vgs_order[*]} " == *" $vg "* ]] || vgs_order+=("$vg")
    fi
    seg_count[$key]=$((seg_count[$key] + 1))
    seg_line[$key]="$dm|$segtype|$ranges|$extent"
    # A device-mapper name already in use on the helper (its own VG of the same name).
    [[ -e $RA_DEV_ROOT/mapper/${dm##*/} ]] && vg_clash[$vg]=1
  done <<<"$segs"
  ((${#lvs_order[@]} > 0)) || {
    LVM_NOTE="no logical volumes found"
    return 0
  }
  for vg in "${vgs_order[@]}"; do
    local activated=0
    if [[ -n ${vg_clash[$vg]:-} ]]; then
      LVM_NOTE="volume group $vg clashes with a device-mapper name on the helper"
    elif lvm vgchange --config "$LVM_CFG" -ay "$vg" >&2 2>"$WORK/lvm.err"; then
      ACTIVE_VGS+=("$vg")
      activated=1
      LVM_MODE=vgchange
      if command -v udevadm >/dev/null 2>&1; then udevadm settle --timeout=10 2>/dev/null || true; fi
    else
      LVM_NOTE="vgchange -ay $vg failed: $(grep -v WARNING "$WORK/lvm.err" | sed -n 1p)"
    fi
    for key in "${lvs_order[@]}"; do
      [[ ${key%%/*} == "$vg" ]] || continue
      IFS='|' read -r dm segtype ranges extent <<<"${seg_line[$key]}"
      local dev=""
      if ((activated)); then
        dev=$dm
        [[ -b $dev ]] || dev=""
      elif [[ $segtype == linear && ${seg_count[$key]} == 1 && $ranges != *" "* ]]; then
        # Without device-mapper (or with a name clash) a single-segment linear LV, which is how
        # distributions lay out their root LV, is a plain byte range of its PV.
        if map_lv_with_loop "$ranges" "$extent"; then
          dev=$MAPPED_DEV
          LVM_MODE=loop
        fi
      fi
      [[ -n $dev ]] || {
        log "logical volume $key cannot be opened"
        continue
      }
      LV_OF[$dev]=$key
      LV_DM[$dev]=${dm##*/}
      classify_blocks "$dev"
    done
  done
  return 0
}

# A filesystem whose label, GPT partition name or LV name says "root".
rootish() {
  case ${FS_LABEL[$1]:-} in cloudimg-rootfs | root | rootfs | /) return 0 ;; esac
  case ${P_NAME[$1]:-} in root | rootfs | "Linux root"*) return 0 ;; esac
  case ${LV_OF[$1]:-} in */root | */rootfs | */lv_root | */root_lv) return 0 ;; esac
  return 1
}

# Candidates in the order they are tried as the root: GPT root types, then root-like names, then the rest.
ordered_candidates() {
  local dev pass
  for pass in 1 2 3; do
    for dev in "${FS_CANDS[@]}"; do
      if [[ $ROOT_PART_TYPES == *" ${P_TYPE[$dev]:-none} "* ]]; then
        ((pass == 1)) && printf '%s\n' "$dev"
      elif rootish "$dev"; then
        ((pass == 2)) && printf '%s\n' "$dev"
      else
        ((pass == 3)) && printf '%s\n' "$dev"
      fi
    done
  done
  return 0
}

probe_opts() {
  case ${FS_TYPE[$1]} in
    xfs) printf 'ro,norecovery,nouuid' ;;
    ext*) printf 'ro,noload' ;;
    *) printf 'ro' ;;
  esac
}

rw_opts() {
  case ${FS_TYPE[$1]} in
    xfs) printf 'rw,nouuid' ;;
    *) printf 'rw' ;;
  esac
}

MOUNT_ERR=""
mount_at() { # $1 dev $2 dir $3 options
  if mount -t "${FS_TYPE[$1]}" -o "$3,$MOUNT_SAFETY" "$1" "$2" 2>"$WORK/mount.err"; then
    MOUNTED+=("$2")
    return 0
  fi
  MOUNT_ERR="${1##*/}: $(sed -n 1p "$WORK/mount.err")"
  return 1
}

unmount_last() {
  local last=$((${#MOUNTED[@]} - 1))
  umount "${MOUNTED[last]}"
  unset 'MOUNTED[last]'
  MOUNTED=("${MOUNTED[@]}")
}

is_root_tree() { [[ -f $1/etc/passwd && ! -L $1/etc && ! -L $1/etc/passwd ]]; }

ROOT_DEV=""
ROOT_SUBVOL=""

# Finds the btrfs subvolume that holds the root: the default subvolume (openSUSE snapshots), the
# top level, or a top-level subvolume such as Fedora's "root" or Ubuntu-style "@".
probe_btrfs() {
  local dev=$1 dir name
  if mount_at "$dev" "$PROBE" ro; then
    if is_root_tree "$PROBE"; then
      unmount_last
      ROOT_SUBVOL=""
      return 0
    fi
    unmount_last
  fi
  mount_at "$dev" "$PROBE" ro,subvolid=5 || return 2
  for name in root @ @root; do
    if is_root_tree "$PROBE/$name"; then
      unmount_last
      ROOT_SUBVOL=$name
      return 0
    fi
  done
  for dir in "$PROBE"/*/; do
    name=${dir%/}
    name=${name##*/}
    if is_root_tree "$PROBE/$name"; then
      unmount_last
      ROOT_SUBVOL=$name
      return 0
    fi
  done
  unmount_last
  return 1
}

find_root() {
  local dev mounted_any=0 r
  while IFS= read -r dev; do
    [[ -n $dev ]] || continue
    if [[ ${FS_TYPE[$dev]} == btrfs ]]; then
      r=0
      probe_btrfs "$dev" || r=$?
      ((r == 2)) || mounted_any=1
      if ((r == 0)); then
        ROOT_DEV=$dev
        return 0
      fi
      continue
    fi
    mount_at "$dev" "$PROBE" "$(probe_opts "$dev")" || continue
    mounted_any=1
    if is_root_tree "$PROBE"; then
      unmount_last
      ROOT_DEV=$dev
      return 0
    fi
    unmount_last
  done < <(ordered_candidates)
  ((mounted_any)) && return 1
  return 2
}

spec_to_dev() { # fstab source -> one of our candidate devices
  local spec=$1 want key dev
  spec=${spec//\"/}
  case $spec in
    UUID=* | /dev/disk/by-uuid/*) key=uuid want=${spec#UUID=} want=${want#/dev/disk/by-uuid/} ;;
    LABEL=* | /dev/disk/by-label/*) key=label want=${spec#LABEL=} want=${want#/dev/disk/by-label/} ;;
    PARTUUID=* | /dev/disk/by-partuuid/*) key=partuuid want=${spec#PARTUUID=} want=${want#/dev/disk/by-partuuid/} ;;
    /dev/mapper/*) key=dm want=${spec#/dev/mapper/} ;;
    /dev/*/*) key=lv want=${spec#/dev/} ;;
    *) return 1 ;;
  esac
  for dev in "${FS_CANDS[@]}"; do
    case $key in
      uuid) [[ ${FS_UUID[$dev]:-} == "${want,,}" ]] ;;
      label) [[ ${FS_LABEL[$dev]:-} == "$want" ]] ;;
      partuuid) [[ ${P_UUID[$dev]:-} == "${want,,}" ]] ;;
      dm) [[ ${LV_DM[$dev]:-} == "$want" ]] ;;
      lv) [[ ${LV_OF[$dev]:-} == "$want" ]] ;;
    esac && {
      printf '%s\n' "$dev"
      return 0
    }
  done
  return 1
}

# Mounts what the volume's fstab puts under the paths that may hold authorized_keys (a separate
# /home, Fedora's btrfs "home" subvolume), when it is on this volume.
mount_fstab_extras() {
  local fstab line spec mp opts rest dev o extra dir
  local -a flines
  vol_file /etc/fstab || return 0
  fstab=$VOL_FILE
  mapfile -t flines <"$MNT$fstab"
  for line in "${flines[@]}"; do
    read -r spec mp _ opts rest <<<"$line" || true
    [[ -n $spec && $spec != \#* ]] || continue
    [[ $EXTRA_MOUNT_POINTS == *" $mp "* ]] || continue
    dev=$(spec_to_dev "$spec") || {
      log "fstab: $spec for $mp is not on this volume; skipped"
      continue
    }
    extra=$(rw_opts "$dev")
    if [[ ${FS_TYPE[$dev]} == btrfs ]]; then
      IFS=, read -r -a o <<<"$opts"
      for opts in "${o[@]}"; do
        case $opts in subvol=* | subvolid=*) extra+=",$opts" ;; esac
      done
    fi
    resolve_in_root "$mp" || continue
    dir=$RESOLVED
    [[ -d $MNT$dir ]] || continue
    if mount_at "$dev" "$MNT$dir" "$extra"; then
      log "mounted ${dev##*/} at $mp"
    else
      log "could not mount ${dev##*/} at $mp: $MOUNT_ERR"
    fi
  done
}

# ---------------------------------------------------------------------------------------------------
# Accounts and sshd configuration of the volume

U_NAMES=()
declare -A U_UID=() U_GID=() U_HOME=() U_SHELL=()

read_passwd() {
  local f line name pw uid gid gecos home shell
  local -a plines
  vol_file /etc/passwd || return 0
  f=$VOL_FILE
  mapfile -t plines <"$MNT$f"
  for line in "${plines[@]}"; do
    IFS=: read -r name pw uid gid gecos home shell <<<"$line" || true
    [[ -n $name && $name != \#* && $name != [+-]* ]] || continue
    [[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ ]] || continue
    [[ -n ${U_UID[$name]:-} ]] && continue
    U_NAMES+=("$name")
    U_UID[$name]=$uid
    U_GID[$name]=$gid
    U_HOME[$name]=${home:-/}
    U_SHELL[$name]=${shell%$'\r'}
  done
  : "$pw" "$gecos"
}

has_login_shell() {
  local sh=${U_SHELL[$1]}
  case ${sh##*/} in nologin | false | sync | shutdown | halt) return 1 ;; esac
  return 0
}

AKF=(.ssh/authorized_keys .ssh/authorized_keys2)
AKF_SET=0
PRL=""
PRL_SET=0

# sshd_config: "for each keyword, the first obtained value will be used"; Include files are read
# where the Include stands; Match blocks are left out (they apply to some connections only).
# https://man.openbsd.org/sshd_config
parse_sshd_file() { # $1 volume path, $2 include depth
  local f line kw dir pat m in_match=0 rdir
  local -a tok args flines
  ((${2} <= 16)) || return 0
  vol_file "$1" || return 0
  f=$VOL_FILE
  # Read whole files first: an open descriptor would keep the volume busy if the script stops.
  mapfile -t flines <"$MNT$f"
  for line in "${flines[@]}"; do
    line=${line%$'\r'}
    read -r -a tok <<<"$line" || true
    ((${#tok[@]} > 0)) || continue
    [[ ${tok[0]} == \#* ]] && continue
    kw=${tok[0]}
    args=("${tok[@]:1}")
    if [[ $kw == *=* ]]; then
      [[ -n ${kw#*=} ]] && args=("${kw#*=}" "${args[@]}")
      kw=${kw%%=*}
    elif [[ ${args[0]:-} == =* ]]; then
      # "Keyword = value" and "Keyword =value"
      args[0]=${args[0]#=}
      [[ -n ${args[0]} ]] || args=("${args[@]:1}")
    fi
    local -a clean=()
    for m in "${args[@]}"; do
      [[ $m == \#* ]] && break
      m=${m#\"}
      clean+=("${m%\"}")
    done
    kw=${kw,,}
    if [[ $kw == match ]]; then
      in_match=1
      continue
    fi
    ((in_match)) && continue
    case $kw in
      include)
        for m in "${clean[@]}"; do
          [[ $m == /* ]] || m=/etc/ssh/$m
          dir=${m%/*}
          pat=${m##*/}
          resolve_in_root "${dir:-/}" || continue
          rdir=$RESOLVED
          local -a found=()
          local g
          shopt -s nullglob
          # shellcheck disable=SC2206 # the pattern is a glob on purpose
          found=("$MNT$rdir"/$pat)
          shopt -u nullglob
          for g in "${found[@]}"; do
            parse_sshd_file "$rdir/${g##*/}" $(($2 + 1))
          done
        done
        ;;
      authorizedkeysfile)
        if ((AKF_SET == 0)) && ((${#clean[@]} > 0)); then
          AKF_SET=1
          AKF=("${clean[@]}")
          if [[ ${#AKF[@]} == 1 && ${AKF[0],,} == none ]]; then AKF=(); fi
        fi
        ;;
      permitrootlogin)
        if ((PRL_SET == 0)) && ((${#clean[@]} > 0)); then
          PRL_SET=1
          PRL=${clean[0],,}
        fi
        ;;
    esac
  done
  return 0
}

# PermitRootLogin without a value in the files: "prohibit-password" since OpenSSH 7.0, "yes" before
# (https://www.openssh.com/txt/release-7.0).
default_permit_root_login() {
  ((PRL_SET == 0)) || return 0
  PRL=prohibit-password
  if [[ $(volume_openssh_version) =~ ^([0-9]+)\.([0-9]+)$ ]] && ((BASH_REMATCH[1] < 7)); then PRL=yes; fi
}

# Root may log in with a plain key: "yes" and "prohibit-password" (old name "without-password");
# "forced-commands-only" only with a command= option, which the new line has not.
root_login_with_key() {
  case $PRL in yes | prohibit-password | without-password) return 0 ;; esac
  return 1
}

EXPANDED=""
# AuthorizedKeysFile tokens %% %h %U %u; a relative path is taken from the home directory.
# https://man.openbsd.org/sshd_config#TOKENS
expand_akf() { # $1 pattern $2 user: sets EXPANDED to the absolute volume path
  local p=$1 out="" c home=${U_HOME[$2]}
  while [[ -n $p ]]; do
    c=${p:0:1}
    if [[ $c == % && ${#p} -ge 2 ]]; then
      case ${p:1:1} in
        h) out+=$home ;;
        u) out+=$2 ;;
        U) out+=${U_UID[$2]} ;;
        %) out+=% ;;
        *) out+=${p:0:2} ;;
      esac
      p=${p:2}
    else
      out+=$c
      p=${p:1}
    fi
  done
  [[ $out == /* ]] || out=${home%/}/$out
  EXPANDED=$out
}

KEY_FILES=()
EXISTING_FILES=()
ESCAPING=""

# Sets KEY_FILES to the authorized_keys files sshd would read for user $1, resolved inside the
# volume, and EXISTING_FILES to those of them that are regular files. A path that leads out of the
# volume is named in ESCAPING and left out.
key_files_of() {
  local p seen=$'\n' r
  KEY_FILES=()
  EXISTING_FILES=()
  ESCAPING=""
  for p in "${AKF[@]}"; do
    expand_akf "$p" "$1"
    r=0
    resolve_in_root "$EXPANDED" || r=$?
    if ((r == 2)); then
      [[ -n $ESCAPING ]] || ESCAPING=$EXPANDED
      continue
    fi
    ((r == 0)) || continue
    [[ $seen == *$'\n'"$RESOLVED"$'\n'* ]] && continue
    seen+=$RESOLVED$'\n'
    KEY_FILES+=("$RESOLVED")
    if [[ -f $MNT$RESOLVED ]]; then EXISTING_FILES+=("$RESOLVED"); fi
  done
  return 0
}

# Root already logs in with a key: a key line without a forced command. cloud-init's disable_root
# leaves root only keys with command="echo 'Please login as the user ...'": that root stays locked.
root_has_usable_key() {
  local f
  key_files_of root
  for f in "${EXISTING_FILES[@]}"; do
    awk '!/^[ \t]*(#|$)/ && !/command=/ { found = 1; exit } END { exit !found }' "$MNT$f" && return 0
  done
  return 1
}

# The default user's name in the volume's cloud-init configuration: cloud.cfg, then cloud.cfg.d/*.cfg
# in lexical order, a later file overriding an earlier one (cloudinit/util.py read_conf_d,
# read_conf_with_confd: https://github.com/canonical/cloud-init/blob/main/cloudinit/util.py;
# https://docs.cloud-init.io/en/latest/explanation/configuration.html). The name is
# system_info.default_user.name, unless a top-level "user:" (a name, or a mapping with "name:")
# overrides it (https://github.com/canonical/cloud-init/blob/main/cloudinit/distros/ug_util.py).
# Block and flow ({name: x}) mappings; YAML this simple reader does not follow names nothing.
cloud_default_user() {
  local -a files=()
  local g d
  if vol_file /etc/cloud/cloud.cfg; then files+=("$MNT$VOL_FILE"); fi
  if resolve_in_root /etc/cloud/cloud.cfg.d && [[ -d $MNT$RESOLVED ]]; then
    d=$RESOLVED
    for g in "$MNT$d"/*.cfg; do
      if vol_file "$d/${g##*/}"; then files+=("$MNT$VOL_FILE"); fi
    done
  fi
  ((${#files[@]} > 0)) || return 0
  awk '
    function scalar(s) {
      sub(/^[ \t]+/, "", s); sub(/[ \t]+#.*$/, "", s); sub(/[ \t]+$/, "", s)
      if (s ~ /^".*"$/ || s ~ /^\047.*\047$/) s = substr(s, 2, length(s) - 2)
      return s
    }
    function flow_name(s,   m) {
      if (!match(s, /[{, \t]name[ \t]*:[ \t]*[^,}]*/)) return ""
      m = substr(s, RSTART, RLENGTH); sub(/^[{, \t]*name[ \t]*:/, "", m)
      return scalar(m)
    }
    function value_of(s, key) { sub("^" key "[ \t]*:", "", s); return scalar(s) } # the value of "key:" on line s, or "" for a block that follows
    FNR == 1 { si = 0; du = 0; ub = 0 }
    { sub(/\r$/, "") }
    /^[ \t]*(#|$)/ || /^(---|\.\.\.)/ { next }
    {
      match($0, /^ */); ind = RLENGTH; line = substr($0, ind + 1)
      if (ind == 0) {
        si = 0; du = 0; ub = 0
        if (line ~ /^system_info[ \t]*:/) si = 1
        else if (line ~ /^user[ \t]*:/) {
          v = value_of(line, "user")
          if (v ~ /^\{/) { v = flow_name(v); if (v != "") user = v }
          else if (v == "") { ub = 1; ubind = -1 }
          else user = v
        }
        next
      }
      if (ub) {
        if (ubind < 0) ubind = ind
        if (ind == ubind && line ~ /^name[ \t]*:/) { v = value_of(line, "name"); if (v != "") user = v }
        next
      }
      if (!si) next
      if (du && ind > duind) {
        if (dind < 0) dind = ind
        if (ind == dind && line ~ /^name[ \t]*:/) { v = value_of(line, "name"); if (v != "") def = v }
        next
      }
      du = 0
      if (line ~ /^default_user[ \t]*:/) {
        v = value_of(line, "default_user")
        if (v ~ /^\{/) { v = flow_name(v); if (v != "") def = v }
        else if (v == "") { du = 1; duind = ind; dind = -1 }
      }
    }
    END { if (user != "") print user; else if (def != "") print def }
  ' "${files[@]}"
}

OS_ID=""
OS_ID_LIKE=""
# /etc/os-release, else /usr/lib/os-release (https://www.freedesktop.org/software/systemd/man/latest/os-release.html).
read_os_release() {
  local f line k v
  local -a olines
  if vol_file /etc/os-release || vol_file /usr/lib/os-release; then f=$VOL_FILE; else return 0; fi
  mapfile -t olines <"$MNT$f"
  for line in "${olines[@]}"; do
    line=${line%$'\r'}
    [[ $line == *=* ]] || continue
    k=${line%%=*}
    v=${line#*=}
    v=${v#[\"\']}
    v=${v%[\"\']}
    case $k in
      ID) OS_ID=${v,,} ;;
      ID_LIKE) OS_ID_LIKE=${v,,} ;;
    esac
  done
}

# The login account the distribution's cloud images have on EC2, for an os-release ID; several in the
# order to try. https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/managing-users.html (Amazon
# Linux, CentOS, Debian, Fedora, RHEL, SUSE, Ubuntu, Oracle); Rocky "rocky" and AlmaLinux "ec2-user":
# https://github.com/test-kitchen/kitchen-ec2/tree/main/lib/kitchen/driver/aws/standard_platform
distro_accounts() {
  case $1 in
    amzn | rhel | almalinux | ol | sles | sled | opensuse | opensuse-leap | opensuse-tumbleweed) REPLY="ec2-user" ;;
    ubuntu) REPLY="ubuntu" ;;
    debian) REPLY="admin" ;;
    centos) REPLY="centos ec2-user" ;;
    fedora) REPLY="fedora ec2-user" ;;
    rocky) REPLY="rocky" ;;
    *) REPLY="" ;;
  esac
}

USER_SEL=""
USER_SRC=""

# Sets USER_SEL (and USER_SRC: how it was chosen) to the one account that gets the key on the tree
# at MNT (described as $1 in messages), or fails.
choose_account() {
  local where=$1 def id name names="" why=() ids=()
  read_passwd
  parse_sshd_file /etc/ssh/sshd_config 0
  default_permit_root_login
  if [[ -n $RA_USER ]]; then
    [[ -n ${U_UID[$RA_USER]:-} ]] || fail USER_NOT_FOUND "no account '$RA_USER' in the /etc/passwd of $where"
    has_login_shell "$RA_USER" || fail USER_NOT_FOUND "account '$RA_USER' on $where has no login shell (${U_SHELL[$RA_USER]})"
    if [[ $RA_USER == root ]] && ! root_login_with_key; then
      fail USER_NOT_FOUND "root on $where cannot log in with a key: sshd has PermitRootLogin $PRL"
    fi
    USER_SEL=$RA_USER
    USER_SRC=requested
    return 0
  fi
  def=$(cloud_default_user)
  if [[ -n $def ]]; then
    if [[ $def != root && -n ${U_UID[$def]:-} ]] && has_login_shell "$def"; then
      USER_SEL=$def
      USER_SRC=cloud-init
      return 0
    fi
    why+=("cloud-init's default user '$def' is not a login account in /etc/passwd")
  else
    why+=("no cloud-init default user")
  fi
  read_os_release
  read -r -a ids <<<"$OS_ID $OS_ID_LIKE" || true
  for id in "${ids[@]}"; do
    distro_accounts "$id"
    for name in $REPLY; do
      [[ " $names " == *" $name "* ]] || names+="${names:+ }$name"
    done
  done
  for name in $names; do
    if [[ -n ${U_UID[$name]:-} ]] && has_login_shell "$name"; then
      USER_SEL=$name
      USER_SRC=os-release
      return 0
    fi
  done
  if [[ -n $OS_ID ]]; then
    why+=("/etc/os-release ID=${OS_ID}${OS_ID_LIKE:+ ID_LIKE=\"$OS_ID_LIKE\"} names ${names:-no known account}, none of them a login account")
  else
    why+=("no /etc/os-release")
  fi
  if [[ -n ${U_UID[root]:-} ]] && has_login_shell root && root_login_with_key && root_has_usable_key; then
    USER_SEL=root
    USER_SRC=root
    return 0
  fi
  if ! root_login_with_key; then
    why+=("root may not log in with a key (PermitRootLogin $PRL)")
  else
    why+=("root has no key it logs in with")
  fi
  local msg="" w
  for w in "${why[@]}"; do msg+="${msg:+; }$w"; done
  fail NO_LOGIN_USER "no login account to give the key to on $where: $msg"
}

# ---------------------------------------------------------------------------------------------------
# Key

KEY_TYPE=""
PUBKEY=""
KEY_ALG=""
KEY_BLOB=""
FINGERPRINT=""
KEY_COMMENT="reset-access-$RA_JOB_ID"

volume_openssh_version() {
  local f v=""
  if vol_file /usr/sbin/sshd; then
    f=$VOL_FILE
    v=$(grep -aoE 'OpenSSH_[0-9]+\.[0-9]+' "$MNT$f" | sed -n '1s/OpenSSH_//p' || true)
  fi
  if [[ -z $v ]] && vol_file /var/lib/dpkg/status; then
    f=$VOL_FILE
    v=$(awk '/^Package: / { p = $2 } p == "openssh-server" && /^Version: / { print $2; exit }' "$MNT$f" |
      sed -nE '1s/^([0-9]+:)?([0-9]+\.[0-9]+).*/\2/p')
  fi
  printf '%s\n' "$v"
}

choose_key_type() {
  local v major minor
  KEY_TYPE=$RA_KEY_TYPE
  [[ $KEY_TYPE == ed25519 ]] || return 0
  v=$(volume_openssh_version)
  if [[ $v =~ ^([0-9]+)\.([0-9]+)$ ]]; then
    major=${BASH_REMATCH[1]}
    minor=${BASH_REMATCH[2]}
    # Ed25519 keys arrived in OpenSSH 6.5 (https://www.openssh.com/txt/release-6.5).
    if ((major < 6 || (major == 6 && minor < 5))); then
      log "the volume's OpenSSH is $v, older than 6.5: using RSA 4096"
      KEY_TYPE=rsa
    fi
  fi
}

generate_key() {
  local -a opts=(-t ed25519)
  [[ $KEY_TYPE == rsa ]] && opts=(-t rsa -b 4096)
  ssh-keygen -q "${opts[@]}" -N '' -C "$KEY_COMMENT" -f "$WORK/id" </dev/null 2>"$WORK/keygen.err" ||
    fail KEYGEN_FAILED "ssh-keygen failed: $(sed -n 1p "$WORK/keygen.err" 2>/dev/null || true)"
  [[ -s $WORK/id && -s $WORK/id.pub ]] || fail KEYGEN_FAILED "ssh-keygen produced no key"
  PUBKEY=$(sed -n 1p "$WORK/id.pub")
  read -r KEY_ALG KEY_BLOB _ <<<"$PUBKEY"
  FINGERPRINT=$(ssh-keygen -l -E sha256 -f "$WORK/id.pub" 2>/dev/null | awk '{ print $2 }') ||
    fail KEYGEN_FAILED "could not read the fingerprint of the new key"
}

# One authorized_keys line (sshd(8) AUTHORIZED_KEYS FILE FORMAT, https://man.openbsd.org/sshd.8):
# optional comma-separated options (name, or name="value" with \" inside), the key type, the base64
# key, an optional comment. Sets KEY_ALG and KEY_BLOB; false for anything else, a control character
# (a newline would smuggle in a second line) or a line longer than MAX_KEY_LINE.
parse_key_line() {
  local line=$1 opt re
  ((${#line} <= MAX_KEY_LINE)) || return 1
  [[ $line != *[[:cntrl:]]* ]] || return 1
  opt='[A-Za-z0-9-]+(="([^"\\]|\\.)*")?'
  re="^(${opt}(,${opt})*[ ]+)?(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa)[ ]+([A-Za-z0-9+/]+={0,2})([ ].*)?\$"
  [[ $line =~ $re ]] || return 1
  KEY_ALG=${BASH_REMATCH[7]}
  KEY_BLOB=${BASH_REMATCH[8]}
}

# The caller's line: its key must be one ssh-keygen reads, of the type the line names, and an RSA key
# at least 3072 bits (128-bit security, NIST SP 800-57 Part 1 Rev. 5 table 2:
# https://csrc.nist.gov/pubs/sp/800/57/pt1/r5/final).
validate_caller_key() {
  local out bits fp kind want
  parse_key_line "$RA_PUBLIC_KEY" || fail INVALID_PUBLIC_KEY "RA_PUBLIC_KEY must be one authorized_keys line of at most $MAX_KEY_LINE characters: optional options, then ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa, the base64 key and an optional comment"
  command -v ssh-keygen >/dev/null 2>&1 || fail INVALID_PUBLIC_KEY "the public key cannot be checked here: no ssh-keygen"
  printf '%s %s\n' "$KEY_ALG" "$KEY_BLOB" >"$WORK/caller.pub"
  # -E arrived in OpenSSH 6.8; an older ssh-keygen prints an MD5 fingerprint, not kept.
  if out=$(ssh-keygen -l -E sha256 -f "$WORK/caller.pub" 2>"$WORK/keygen.err"); then
    read -r bits fp _ <<<"$out"
  elif out=$(ssh-keygen -l -f "$WORK/caller.pub" 2>"$WORK/keygen.err"); then
    read -r bits _ <<<"$out"
    fp=""
  else
    fail INVALID_PUBLIC_KEY "ssh-keygen cannot read the public key: $(sed -n 1p "$WORK/keygen.err")"
  fi
  kind=${out##* }
  case $KEY_ALG in
    ssh-ed25519) want="(ED25519)" KEY_TYPE=ed25519 ;;
    ecdsa-sha2-nistp*) want="(ECDSA)" KEY_TYPE=ecdsa ;;
    *) want="(RSA)" KEY_TYPE=rsa ;;
  esac
  [[ $kind == "$want" ]] || fail INVALID_PUBLIC_KEY "the key is not the $KEY_ALG key its line says it is"
  if [[ $KEY_TYPE == ecdsa && $bits != "${KEY_ALG#ecdsa-sha2-nistp}" ]]; then
    fail INVALID_PUBLIC_KEY "the key is not the $KEY_ALG key its line says it is"
  fi
  if [[ $KEY_TYPE == rsa ]] && ! ((bits >= 3072)); then
    fail INVALID_PUBLIC_KEY "an RSA key of $bits bits: at least 3072 bits are needed"
  fi
  FINGERPRINT=$fp
  PUBKEY=$RA_PUBLIC_KEY
}

# The volume's sshd must know the key type: Ed25519 since OpenSSH 6.5
# (https://www.openssh.com/txt/release-6.5), ECDSA since 5.7 (https://www.openssh.com/txt/release-5.7).
check_key_supported() { # $1 description
  local v need=""
  case $KEY_TYPE in
    ed25519) need=6.5 ;;
    ecdsa) need=5.7 ;;
    *) return 0 ;;
  esac
  v=$(volume_openssh_version)
  if [[ $v =~ ^([0-9]+)\.([0-9]+)$ ]] &&
    ((BASH_REMATCH[1] < ${need%.*} || (BASH_REMATCH[1] == ${need%.*} && BASH_REMATCH[2] < ${need#*.}))); then
    fail KEY_TYPE_UNSUPPORTED "the OpenSSH of $1 is $v, older than $need: it cannot use a $KEY_TYPE key"
  fi
}

# Online, service-made key: the line it sent gets this job's comment, and the instance's sshd must
# be able to read its type.
use_service_key() {
  local type blob
  read -r type blob _ <<<"$RA_PUBLIC_KEY"
  case $type in
    ssh-ed25519) KEY_TYPE=ed25519 ;;
    ecdsa-*) KEY_TYPE=ecdsa ;;
    *) KEY_TYPE=rsa ;;
  esac
  check_key_supported "the instance"
  KEY_ALG=$type
  KEY_BLOB=$blob
  PUBKEY="$type $blob $KEY_COMMENT"
  printf '%s\n' "$PUBKEY" >"$WORK/id.pub"
  FINGERPRINT=""
  if command -v ssh-keygen >/dev/null 2>&1; then
    FINGERPRINT=$(ssh-keygen -l -E sha256 -f "$WORK/id.pub" 2>/dev/null | awk '{ print $2 }') || FINGERPRINT=""
  fi
}

put_parameter() {
  local -a args=(ssm put-parameter --name "$RA_PARAMETER_NAME" --type SecureString --overwrite
    --value "file://$WORK/id")
  [[ -n $RA_KMS_KEY_ID ]] && args+=(--key-id "$RA_KMS_KEY_ID")
  [[ -n $RA_REGION ]] && args+=(--region "$RA_REGION")
  if ! aws "${args[@]}" >/dev/null 2>"$WORK/aws.err"; then
    fail PARAMETER_STORE_REFUSED "put-parameter $RA_PARAMETER_NAME failed: $(grep -v '^[[:space:]]*$' "$WORK/aws.err" | sed -n 1p)"
  fi
  rm -f -- "$WORK/id"
}

# ---------------------------------------------------------------------------------------------------
# SELinux: what the script creates gets the context the volume's own policy gives its path.

SELINUX_MODE=absent
SELINUX_TYPE=targeted
SELINUX_LABELLED=true
LABELS=0
# unchanged: nothing created; policy: every created item labelled from the volume's file_contexts;
# default: at least one from the fallback contexts above; none: SELinux not enforcing/permissive.
CONTEXT_SOURCE=none

read_selinux_config() {
  local f v t
  vol_file /etc/selinux/config || return 0
  f=$VOL_FILE
  v=$(sed -nE 's/^[[:space:]]*SELINUX[[:space:]]*=[[:space:]]*"?([A-Za-z]+)"?.*/\1/p' "$MNT$f" | sed -n '$p')
  t=$(sed -nE 's/^[[:space:]]*SELINUXTYPE[[:space:]]*=[[:space:]]*"?([A-Za-z0-9_.-]+)"?.*/\1/p' "$MNT$f" | sed -n '$p')
  SELINUX_MODE=${v,,}
  [[ -n $SELINUX_MODE ]] || SELINUX_MODE=disabled
  # libselinux's default policy name (SELINUXDEFAULT in libselinux/src/selinux_config.c).
  [[ -n $t && $t != *..* ]] && SELINUX_TYPE=$t
  case $SELINUX_MODE in
    enforcing | permissive)
      LABELS=1
      CONTEXT_SOURCE=unchanged
      ;;
  esac
  return 0
}

LOOKUP_KEY=""
# Applies the first matching alias line of the substitution file $1 (volume path) to LOOKUP_KEY.
apply_subs() {
  local line src dst
  local -a slines
  vol_file "$1" || return 0
  mapfile -t slines <"$MNT$VOL_FILE"
  for line in "${slines[@]}"; do
    read -r src dst _ <<<"$line" || true
    [[ -n $src && -n $dst && $src != \#* ]] || continue
    if [[ $LOOKUP_KEY == "$src" || $LOOKUP_KEY == "$src"/* ]]; then
      if [[ $dst == / && $LOOKUP_KEY == "$src"/* ]]; then
        LOOKUP_KEY=/${LOOKUP_KEY#"$src"/}
      else
        LOOKUP_KEY=$dst${LOOKUP_KEY#"$src"}
      fi
      return 0
    fi
  done
}

CTX=""
# Sets CTX to the context the volume's policy gives volume path $1 of kind $2 (d: directory, f: file),
# or "" when no entry matches, the way libselinux's file backend picks it: file_contexts, then
# file_contexts.homedirs, then file_contexts.local; an entry without regular-expression
# metacharacters that equals the path wins; otherwise the matching regular expression read last
# wins; <<none>> means no context; the path first goes through file_contexts.subs, then
# file_contexts.subs_dist. https://github.com/SELinuxProject/selinux/blob/main/libselinux/src/label_file.c
# (lookup_check_node, selabel_sub_key), label_file.h (regex_has_meta_chars); before libselinux 3.8
# the same order came from sort_specs and a backwards search.
policy_context() {
  local dir=/etc/selinux/$SELINUX_TYPE/contexts/files s
  local -a specs=()
  CTX=""
  for s in file_contexts file_contexts.homedirs file_contexts.local; do
    if vol_file "$dir/$s"; then specs+=("$MNT$VOL_FILE"); fi
  done
  ((${#specs[@]} > 0)) || return 0
  LOOKUP_KEY=$1
  apply_subs "$dir/file_contexts.subs"
  apply_subs "$dir/file_contexts.subs_dist"
  CTX=$(awk -v path="$LOOKUP_KEY" -v kind="$2" '
    { sub(/\r$/, "") }
    /^[ \t]*(#|$)/ { next }
    {
      n = split($0, f, /[ \t]+/); i = (f[1] == "") ? 2 : 1
      re = f[i]
      if (n - i == 2) { t = f[i + 1]; ctx = f[i + 2] } else if (n - i == 1) { t = ""; ctx = f[i + 1] } else next
      if (t != "" && !((kind == "d" && t == "-d") || (kind == "f" && t == "--"))) next
      lit = ""; meta = 0
      for (j = 1; j <= length(re); j++) {
        c = substr(re, j, 1)
        if (c == "\\") {
          c = substr(re, ++j, 1)
          if (c == "" || index(".^$?*+|[({])}-_,", c) == 0) { meta = 1; break }
        } else if (index(".^$?*+|[]({})", c)) { meta = 1; break }
        lit = lit c
      }
      if (!meta) { if (lit == path) { lhit = 1; lctx = ctx } ; next }
      if (re ~ /\(\?|\\[A-Za-z0-9]/) next # PCRE-only syntax that POSIX awk cannot compile: left out.
      if (path ~ ("^(" re ")$")) { rhit = 1; rctx = ctx }
    }
    END { c = lhit ? lctx : (rhit ? rctx : ""); if (c != "" && c != "<<none>>") print c }
  ' "${specs[@]}") || CTX=""
}

# Labels volume path $1 (kind $2) that this run created: the volume policy's context, else the
# fallback $3; with neither, the item stays unlabelled and a relabel is asked for.
label_new() {
  local ctx
  ((LABELS)) || return 0
  policy_context "$1" "$2"
  ctx=$CTX
  if [[ -n $ctx ]]; then
    [[ $CONTEXT_SOURCE == default ]] || CONTEXT_SOURCE=policy
  else
    ctx=$3
    CONTEXT_SOURCE=default
    log "no entry for $1 in the volume's SELinux policy: ${ctx:-left unlabelled}"
  fi
  if [[ -z $ctx ]]; then
    SELINUX_LABELLED=false
    return 0
  fi
  if setfattr -h -n security.selinux -v "$ctx" "$MNT$1" 2>/dev/null || chcon -h "$ctx" "$MNT$1" 2>/dev/null; then
    return 0
  fi
  log "could not set the SELinux context of $1"
  SELINUX_LABELLED=false
}

# ---------------------------------------------------------------------------------------------------
# authorized_keys: one file, appended to in place, or created.

FILE_SEL=""
FILE_NEW=0
HOME_SEL=""
ADDED=false

# Decides the file for USER_SEL and checks that it can be written, changing nothing: the first
# existing file sshd reads, else the first one it would read.
plan_key_file() { # $1 description
  local user=$USER_SEL r=0 cur comp dir
  local -a parts
  resolve_in_root "${U_HOME[$user]}" || r=$?
  ((r == 0)) || fail KEY_FILE_REFUSED "the home directory of $user (${U_HOME[$user]}) leads outside $1 or through too many symlinks"
  HOME_SEL=$RESOLVED
  key_files_of "$user"
  [[ -z $ESCAPING ]] || fail KEY_FILE_REFUSED "$ESCAPING, which sshd reads for $user, leads outside $1 through a symlink: not followed"
  ((${#KEY_FILES[@]} > 0)) || fail NO_LOGIN_USER "sshd on $1 reads no authorized_keys file (AuthorizedKeysFile none)"
  if ((${#EXISTING_FILES[@]} > 0)); then
    FILE_SEL=${EXISTING_FILES[0]}
    FILE_NEW=0
    return 0
  fi
  FILE_SEL=${KEY_FILES[0]}
  FILE_NEW=1
  if [[ -e $MNT$FILE_SEL || -L $MNT$FILE_SEL ]]; then fail KEY_FILE_REFUSED "$FILE_SEL on $1 is not a regular file"; fi
  dir=${FILE_SEL%/*}
  IFS=/ read -r -a parts <<<"${dir#/}"
  cur=""
  for comp in "${parts[@]}"; do
    [[ -n $comp ]] || continue
    cur=$cur/$comp
    if [[ -e $MNT$cur && ! -d $MNT$cur ]]; then fail KEY_FILE_REFUSED "$cur on $1 is in the way of $FILE_SEL: not a directory"; fi
  done
  return 0
}

# The key is on an active line of one of the account's files already (any options or comment).
key_present() { # $1 volume path
  awk -v b="$KEY_BLOB" '/^[ \t]*#/ { next } { for (i = 1; i <= NF; i++) if ($i == b) { found = 1; exit } } END { exit !found }' "$MNT$1"
}

ensure_dirs() { # $1 volume dir; $2 home (resolved) or ""; $3 uid $4 gid
  local dir=$1 home=$2 cur="" comp
  local -a parts
  IFS=/ read -r -a parts <<<"${dir#/}"
  for comp in "${parts[@]}"; do
    [[ -n $comp ]] || continue
    cur=$cur/$comp
    [[ -d $MNT$cur ]] && continue
    mkdir -- "$MNT$cur"
    if [[ -n $home && ($cur == "$home" || $cur == "$home"/*) ]]; then
      chown "$3:$4" "$MNT$cur"
      chmod 0700 "$MNT$cur"
      if [[ $cur == "$home" ]]; then label_new "$cur" d "$USER_HOME_DIR_CONTEXT"; else label_new "$cur" d "$SSH_HOME_CONTEXT"; fi
    else
      chown 0:0 "$MNT$cur"
      chmod 0755 "$MNT$cur"
      label_new "$cur" d ""
    fi
  done
}

# Adds PUBKEY to FILE_SEL unless the account has the key already. An existing file is only ever
# opened for appending: its owner, mode, SELinux context, ACLs and other lines stay as they are.
apply_key_file() { # $1 description
  local f uid=${U_UID[$USER_SEL]} gid=${U_GID[$USER_SEL]} in_home="" sep=""
  for f in "${EXISTING_FILES[@]}"; do
    if key_present "$f"; then
      FILE_SEL=$f
      ADDED=false
      log "$USER_SEL has the key already in $f"
      return 0
    fi
  done
  ADDED=true
  if ((FILE_NEW == 0)); then
    f=$MNT$FILE_SEL
    # A last line without its newline would run into ours.
    if [[ -s $f && -n $(tail -c 1 -- "$f") ]]; then sep=$'\n'; fi
    printf '%s%s\n' "$sep" "$PUBKEY" >>"$f" || fail KEY_FILE_REFUSED "could not append to $FILE_SEL on $1 (immutable, or a read-only filesystem?)"
    log "appended the key to $FILE_SEL for $USER_SEL"
    return 0
  fi
  [[ $FILE_SEL == "$HOME_SEL"/* && $HOME_SEL != / ]] && in_home=$HOME_SEL
  f=${FILE_SEL%/*}
  ensure_dirs "${f:-/}" "$in_home" "$uid" "$gid"
  (set -o noclobber && : >"$MNT$FILE_SEL") || fail KEY_FILE_REFUSED "could not create $FILE_SEL on $1"
  chown "$uid:$gid" "$MNT$FILE_SEL"
  chmod 0600 "$MNT$FILE_SEL"
  if [[ -n $in_home ]]; then label_new "$FILE_SEL" f "$SSH_HOME_CONTEXT"; else label_new "$FILE_SEL" f ""; fi
  printf '%s\n' "$PUBKEY" >>"$MNT$FILE_SEL"
  log "created $FILE_SEL with the key for $USER_SEL"
}

# The fields both modes report about the account, the file, SELinux and the key.
summary_fields() {
  local u
  json_str "$SELINUX_MODE"
  JSON+=",\"selinux\":{\"mode\":$REPLY,\"labelled\":$SELINUX_LABELLED"
  jfield contextSource "$CONTEXT_SOURCE"
  JSON+='}'
  jfield user "$USER_SEL"
  jfield userSource "$USER_SRC"
  jfield file "$FILE_SEL"
  JSON+=",\"added\":$ADDED"
  json_str "$USER_SEL"
  u=$REPLY
  json_str "$FILE_SEL"
  JSON+=",\"users\":[{\"user\":$u,\"file\":$REPLY,\"added\":$ADDED}]"
  jfield keySource "$KEY_SOURCE"
  if [[ $KEY_SOURCE == generated && -z $RA_TARGET_ROOT ]]; then jfield parameterName "$RA_PARAMETER_NAME"; fi
  jfield keyType "$KEY_TYPE"
  jfield fingerprint "$FINGERPRINT"
  jfield publicKey "$PUBKEY"
}

# ---------------------------------------------------------------------------------------------------

main_offline() {
  validate_inputs
  make_workdir
  # The caller's key is checked before the volume is looked for: a bad key changes nothing anywhere.
  [[ $KEY_SOURCE == caller ]] && validate_caller_key
  log "job $RA_JOB_ID: looking for $RA_VOLUME_ID of $RA_TARGET_INSTANCE_ID"
  find_device || fail DEVICE_NOT_FOUND "no block device for $RA_VOLUME_ID after ${RA_DEVICE_WAIT_SECONDS}s (NVMe serial ${RA_VOLUME_ID//-/} under $RA_DEV_ROOT/disk/by-id, or $RA_DEVICE_HINTS)"
  log "found $DEVICE -> $DISK"
  check_not_helper_root
  check_not_mounted

  list_blocks
  classify_blocks "${BLOCKS[@]}"
  setup_lvm
  if ((${#FS_CANDS[@]} == 0)); then
    fail FILESYSTEM_NOT_RECOGNISED "no ext2/3/4, xfs or btrfs filesystem on $RA_VOLUME_ID (${SEEN_TYPES:-nothing found})${LVM_NOTE:+; LVM: $LVM_NOTE}"
  fi
  local r=0
  find_root || r=$?
  if ((r == 2)); then
    fail MOUNT_FAILED "no filesystem of $RA_VOLUME_ID could be mounted: $MOUNT_ERR"
  elif ((r != 0)); then
    fail ROOT_NOT_FOUND "no filesystem of $RA_VOLUME_ID has /etc/passwd (${SEEN_TYPES})${LVM_NOTE:+; LVM: $LVM_NOTE}"
  fi
  local opts
  opts=$(rw_opts "$ROOT_DEV")
  [[ -n $ROOT_SUBVOL ]] && opts+=",subvol=$ROOT_SUBVOL"
  mount_at "$ROOT_DEV" "$MNT" "$opts" || fail MOUNT_FAILED "could not mount the root filesystem read-write: $MOUNT_ERR"
  log "root filesystem: ${ROOT_DEV} (${FS_TYPE[$ROOT_DEV]}${ROOT_SUBVOL:+, subvolume $ROOT_SUBVOL}) at $MNT"
  mount_fstab_extras

  choose_account "$RA_VOLUME_ID"
  log "account: $USER_SEL ($USER_SRC)"
  read_selinux_config
  plan_key_file "$RA_VOLUME_ID"
  if [[ $KEY_SOURCE == caller ]]; then
    check_key_supported "$RA_VOLUME_ID"
  else
    choose_key_type
    generate_key
    put_parameter
  fi
  apply_key_file "$RA_VOLUME_ID"
  if [[ $SELINUX_LABELLED == false ]] && resolve_in_root /.autorelabel && [[ ! -e $MNT$RESOLVED || -f $MNT$RESOLVED ]]; then
    # Labels could not be set from here: relabel at the next boot (slow, but sshd will read the key).
    : >"$MNT$RESOLVED"
  fi
  sync -f "$MNT" 2>/dev/null || sync

  JSON='{"ok":true'
  jfield volumeId "$RA_VOLUME_ID"
  jfield device "$DEVICE"
  jfield disk "$DISK"
  jfield partition "$ROOT_DEV"
  jfield filesystem "${FS_TYPE[$ROOT_DEV]}"
  [[ -z $ROOT_SUBVOL ]] || jfield subvolume "$ROOT_SUBVOL"
  if [[ -n ${LV_OF[$ROOT_DEV]:-} ]]; then
    json_str "${LV_OF[$ROOT_DEV]}"
    JSON+=",\"lvm\":{\"volume\":$REPLY"
    jfield activation "$LVM_MODE"
    [[ -z $LVM_NOTE ]] || jfield note "$LVM_NOTE"
    JSON+='}'
  fi
  summary_fields
  JSON+='}'
  cleanup || fail MOUNT_FAILED "the volume was updated but could not be unmounted or deactivated cleanly"
  RESULT_PRINTED=1
  emit "$JSON"
}

# Online: the running system's own tree at RA_TARGET_ROOT, the service's or the caller's public key.
main_online() {
  validate_online_inputs
  make_workdir
  [[ $KEY_SOURCE == caller ]] && validate_caller_key
  log "job $RA_JOB_ID: online on ${RA_TARGET_INSTANCE_ID:-this instance}, root $RA_TARGET_ROOT"
  choose_account "the instance"
  log "account: $USER_SEL ($USER_SRC)"
  read_selinux_config
  plan_key_file "the instance"
  if [[ $KEY_SOURCE == caller ]]; then check_key_supported "the instance"; else use_service_key; fi
  apply_key_file "the instance"
  if [[ $SELINUX_LABELLED == false && $SELINUX_MODE == enforcing ]]; then
    # Offline, a relabel at the next boot fixes this; a running system's sshd would refuse the file now.
    fail SELINUX_LABEL_FAILED "the key was added but its SELinux label could not be set (no policy entry, or setfattr and chcon failed): sshd in enforcing mode would not read it"
  fi
  sync -f "${MNT:-/}" 2>/dev/null || sync

  JSON='{"ok":true'
  jfield mode online
  jfield root "$RA_TARGET_ROOT"
  summary_fields
  JSON+='}'
  cleanup || true
  RESULT_PRINTED=1
  emit "$JSON"
}

main() {
  if [[ -n $RA_TARGET_ROOT ]]; then main_online; else main_offline; fi
}

main "$@"
