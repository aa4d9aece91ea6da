#!/usr/bin/env bash
# ec2-reset-access: Linux rescue script. Runs as root on the helper instance through SSM Run Command
# (AWS-RunShellScript) while the target's root volume is attached to the helper.
#
# It finds the target's volume by its volume id, mounts its root filesystem, generates a new key
# pair here on the helper, adds the public key to the authorized_keys files that the volume's sshd
# reads for its login users, puts the private key to Parameter Store (SecureString) and unmounts.
#
# Online mode (RA_TARGET_ROOT set, usually to "/"): the same user selection and authorized_keys rules
# applied to a running system through SSM Run Command on the target itself. The service made the key
# pair and stored the private key already; only its public half comes in (RA_PUBLIC_KEY). No device
# lookup, no mount, no key generation, no Parameter Store.
#
# Inputs (environment, set by the header that buildLinuxRescueCommands writes):
#   RA_JOB_ID RA_TARGET_INSTANCE_ID RA_VOLUME_ID RA_PARAMETER_NAME RA_REGION
#   RA_KEY_TYPE (ed25519 | rsa, default ed25519)  RA_KMS_KEY_ID (optional)
#   RA_DEVICE_HINTS (default "/dev/sdf /dev/xvdf")  RA_DEVICE_WAIT_SECONDS (default 30)
# Online mode (buildLinuxOnlineCommands): RA_JOB_ID RA_TARGET_INSTANCE_ID RA_TARGET_ROOT RA_PUBLIC_KEY
# Test hooks, never set in production: RA_DEV_ROOT (default /dev), RA_MOUNT_BASE (default /mnt),
#   RA_SKIP_HELPER_ROOT_CHECK.
#
# Output: the last line on stdout is one JSON object, {"ok":true,...} or
# {"ok":false,"error":"<CODE>","message":"..."} with a non-zero exit. Progress goes to stderr.
# The private key is never printed and never written anywhere but a private temporary directory
# (tmpfs when available) that is removed on exit.
set -Eeuo pipefail
umask 077
export LC_ALL=C
export AWS_PAGER=""
export LVM_SUPPRESS_FD_WARNINGS=1

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

# Cloud images' default login users, used when the volume's cloud-init config names none that exists.
KNOWN_LOGIN_USERS="ec2-user ubuntu admin centos rocky cloud-user fedora debian almalinux bitnami opc"
# fstab mount points that may hold authorized_keys files (separate /home partition, btrfs home subvolume).
EXTRA_MOUNT_POINTS=" /home /root /var /var/home /srv /opt "
SSH_HOME_CONTEXT="system_u:object_r:ssh_home_t:s0"
USER_HOME_DIR_CONTEXT="system_u:object_r:user_home_dir_t:s0"
# GPT partition types of a Linux root (x86-64, arm64), tried first when looking for the root.
ROOT_PART_TYPES=" 4f68bce3-e8cd-4db1-96e7-fbcaf984b709 b921b045-1df0-41c3-af44-4c6f280d3fae "

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
    if lvm vgchange --config "$LVM_CFG" -an "${ACTIVE_VGS[i]}" >&2; then unset 'ACTIVE_VGS[i]'; else rc=1; fi
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
  printf '{"ok":false,"error":%s,"message":%s}\n' "$code" "$REPLY"
  exit 1
}

on_exit() {
  local rc=$?
  if ((RESULT_PRINTED == 0)); then
    cleanup || true
    RESULT_PRINTED=1
    json_str "the rescue script stopped unexpectedly (exit $rc, line ${ERR_LINE:-unknown})"
    printf '{"ok":false,"error":"INTERNAL_ERROR","message":%s}\n' "$REPLY"
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
# Sets RESOLVED to the volume path $1 with every symlink followed inside the volume.
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

validate_inputs() {
  [[ $RA_JOB_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || fail INVALID_INPUT "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'"
  [[ $RA_VOLUME_ID =~ ^vol-[0-9a-f]{8,32}$ ]] || fail INVALID_INPUT "RA_VOLUME_ID must look like vol-0123456789abcdef0"
  [[ $RA_PARAMETER_NAME == /* ]] || fail INVALID_INPUT "RA_PARAMETER_NAME must be an absolute parameter name"
  case $RA_KEY_TYPE in ed25519 | rsa) ;; *) fail INVALID_INPUT "RA_KEY_TYPE must be ed25519 or rsa" ;; esac
  [[ $RA_DEVICE_WAIT_SECONDS =~ ^[0-9]+$ ]] || fail INVALID_INPUT "RA_DEVICE_WAIT_SECONDS must be a number"
  local tool
  for tool in blkid lsblk mount umount losetup ssh-keygen aws awk findmnt; do
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
  local key_re='^(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/]+={0,2}( [^[:cntrl:]]*)?$'
  [[ $RA_JOB_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || fail INVALID_INPUT "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'"
  [[ $RA_TARGET_ROOT == /* && -d $RA_TARGET_ROOT ]] || fail INVALID_INPUT "RA_TARGET_ROOT must be an existing absolute directory"
  [[ $RA_PUBLIC_KEY =~ $key_re ]] || fail INVALID_INPUT "RA_PUBLIC_KEY must be one OpenSSH public key line (ssh-ed25519 or ssh-rsa)"
  local tool
  for tool in awk sed grep; do
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
  if mount -t "${FS_TYPE[$1]}" -o "$3" "$1" "$2" 2>"$WORK/mount.err"; then
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
# Users and sshd configuration of the volume

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
PRL=prohibit-password
PRL_SET=0

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

EXPANDED=""
expand_akf() { # $1 pattern $2 user: sets EXPANDED to the absolute volume path
  local p=$1 out="" c home=${U_HOME[$2]}
  while [[ -n $p ]]; do
    c=${p:0:1}
    if [[ $c == % && ${#p} -ge 2 ]]; then
      case ${p:1:1} in
        h) out+=$home ;;
        u) out+=$2 ;;
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

# Sets KEY_FILES to the authorized_keys files sshd would read for user $1, resolved inside the volume.
key_files_of() {
  local p seen=$'\n'
  KEY_FILES=()
  for p in "${AKF[@]}"; do
    expand_akf "$p" "$1"
    resolve_in_root "$EXPANDED" || continue
    [[ $seen == *$'\n'"$RESOLVED"$'\n'* ]] && continue
    seen+=$RESOLVED$'\n'
    KEY_FILES+=("$RESOLVED")
  done
  return 0
}

# Sets KEY_FILES, and EXISTING_FILES to those of them that exist.
existing_key_files_of() {
  local f
  key_files_of "$1"
  EXISTING_FILES=()
  for f in "${KEY_FILES[@]}"; do
    if [[ -f $MNT$f ]]; then EXISTING_FILES+=("$f"); fi
  done
  return 0
}

cloud_default_user() {
  local -a files=()
  local f g
  if vol_file /etc/cloud/cloud.cfg; then files+=("$MNT$VOL_FILE"); fi
  local d
  if resolve_in_root /etc/cloud/cloud.cfg.d && [[ -d $MNT$RESOLVED ]]; then
    d=$RESOLVED
    for g in "$MNT$d"/*.cfg; do
      if vol_file "$d/${g##*/}"; then files+=("$MNT$VOL_FILE"); fi
    done
  fi
  ((${#files[@]} > 0)) || return 0
  awk '
    FNR == 1 { inblk = 0 }
    { sub(/\r$/, "") }
    /^[ ]*#/ { next }
    {
      match($0, /^[ ]*/); ind = RLENGTH
      if (inblk && NF > 0 && ind <= bind) inblk = 0
      if (inblk && $0 ~ /^[ ]*name:/) {
        v = $0; sub(/^[ ]*name:[ ]*/, "", v); sub(/[ ]+#.*$/, "", v); gsub(/["\047]/, "", v); sub(/[ ]+$/, "", v)
        if (v != "") last = v
        inblk = 0
      }
      if ($0 ~ /^[ ]*default_user:[ ]*$/) { inblk = 1; bind = ind }
    }
    END { if (last != "") print last }
  ' "${files[@]}"
}

SELECTED=()

select_users() {
  local name def added=" " f
  def=$(cloud_default_user)
  if [[ -n $def && -n ${U_UID[$def]:-} && $def != root ]] && has_login_shell "$def"; then
    SELECTED+=("$def")
    added+="$def "
  else
    for name in $KNOWN_LOGIN_USERS; do
      if [[ -n ${U_UID[$name]:-} ]] && has_login_shell "$name"; then
        SELECTED+=("$name")
        added+="$name "
      fi
    done
  fi
  for name in "${U_NAMES[@]}"; do
    [[ $name != root && $added != *" $name "* ]] || continue
    has_login_shell "$name" || continue
    existing_key_files_of "$name"
    if ((${#EXISTING_FILES[@]} > 0)); then
      SELECTED+=("$name")
      added+="$name "
    fi
  done
  if [[ -n ${U_UID[root]:-} ]]; then
    case $PRL in
      yes | prohibit-password | without-password)
        if root_has_usable_key; then SELECTED+=(root); fi
        ;;
    esac
  fi
  return 0
}

# Root already logs in with a key: a key line without a forced command. cloud-init's disable_root
# leaves root only keys with command="echo 'Please login as the user ...'": that root stays locked.
root_has_usable_key() {
  local f
  existing_key_files_of root
  for f in "${EXISTING_FILES[@]}"; do
    awk '!/^[ \t]*(#|$)/ && !/command=/ { found = 1; exit } END { exit !found }' "$MNT$f" && return 0
  done
  return 1
}

# ---------------------------------------------------------------------------------------------------
# Key

KEY_TYPE=""
PUBKEY=""
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
    # Ed25519 keys arrived in OpenSSH 6.5.
    if ((major < 6 || (major == 6 && minor < 5))); then
      log "the volume's OpenSSH is $v, older than 6.5: using RSA 4096"
      KEY_TYPE=rsa
    fi
  fi
}

generate_key() {
  local -a opts=(-t ed25519)
  [[ $KEY_TYPE == rsa ]] && opts=(-t rsa -b 4096)
  ssh-keygen -q "${opts[@]}" -N '' -C "$KEY_COMMENT" -f "$WORK/id" </dev/null >/dev/null 2>"$WORK/keygen.err" ||
    fail KEYGEN_FAILED "ssh-keygen failed: $(sed -n 1p "$WORK/keygen.err" 2>/dev/null || true)"
  [[ -s $WORK/id && -s $WORK/id.pub ]] || fail KEYGEN_FAILED "ssh-keygen produced no key"
  PUBKEY=$(sed -n 1p "$WORK/id.pub")
  FINGERPRINT=$(ssh-keygen -l -E sha256 -f "$WORK/id.pub" 2>/dev/null | awk '{ print $2 }') ||
    fail KEYGEN_FAILED "could not read the fingerprint of the new key"
}

# Online: the service made the pair; the line it sent gets this job's comment so that a second run
# of the job replaces it (as offline), and the instance's sshd must be able to read its type.
use_given_key() {
  local type blob v
  read -r type blob _ <<<"$RA_PUBLIC_KEY"
  KEY_TYPE=rsa
  [[ $type == ssh-ed25519 ]] && KEY_TYPE=ed25519
  if [[ $KEY_TYPE == ed25519 ]]; then
    v=$(volume_openssh_version)
    # Ed25519 keys arrived in OpenSSH 6.5.
    if [[ $v =~ ^([0-9]+)\.([0-9]+)$ ]] && ((BASH_REMATCH[1] < 6 || (BASH_REMATCH[1] == 6 && BASH_REMATCH[2] < 5))); then
      fail KEY_TYPE_UNSUPPORTED "the instance's OpenSSH is $v, older than 6.5: it cannot use an ed25519 key (ask for keyType rsa)"
    fi
  fi
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
# authorized_keys

SELINUX_MODE=absent
SELINUX_LABELLED=true
USERS_JSON=""

read_selinux_mode() {
  local f v
  vol_file /etc/selinux/config || return 0
  f=$VOL_FILE
  v=$(sed -nE 's/^[[:space:]]*SELINUX[[:space:]]*=[[:space:]]*"?([A-Za-z]+)"?.*/\1/p' "$MNT$f" | sed -n '$p')
  SELINUX_MODE=${v,,}
  [[ -n $SELINUX_MODE ]] || SELINUX_MODE=disabled
}

label() { # $1 volume path $2 context; sshd under SELinux reads keys only with the ssh_home_t type
  [[ $SELINUX_MODE == enforcing || $SELINUX_MODE == permissive ]] || return 0
  if setfattr -h -n security.selinux -v "$2" "$MNT$1" 2>/dev/null || chcon -h "$2" "$MNT$1" 2>/dev/null; then
    return 0
  fi
  log "could not set the SELinux context of $1"
  SELINUX_LABELLED=false
}

# The key is in one of the user's files already (same public key blob, any options or comment).
key_present() { # $@ volume paths
  local f blob
  read -r _ blob _ <<<"$PUBKEY"
  for f in "$@"; do
    awk -v b="$blob" '{ for (i = 1; i <= NF; i++) if ($i == b) { found = 1; exit } } END { exit !found }' "$MNT$f" && return 0
  done
  return 1
}

ensure_dirs() { # $1 volume dir to create; $2 home (resolved) or ""; $3 uid $4 gid
  local dir=$1 home=$2 cur="" comp
  local -a parts
  IFS=/ read -r -a parts <<<"${dir#/}"
  for comp in "${parts[@]}"; do
    [[ -n $comp ]] || continue
    cur=$cur/$comp
    [[ -d $MNT$cur ]] && continue
    mkdir -- "$MNT$cur"
    if [[ -n $home && ($cur == "$home" || $cur == "$home"/*) ]]; then
      chmod 0700 "$MNT$cur"
      chown "$3:$4" "$MNT$cur"
      if [[ $cur == "$home" ]]; then label "$cur" "$USER_HOME_DIR_CONTEXT"; else label "$cur" "$SSH_HOME_CONTEXT"; fi
    else
      chmod 0755 "$MNT$cur"
      chown 0:0 "$MNT$cur"
    fi
  done
}

add_key_for_user() {
  local user=$1 uid=${U_UID[$1]} gid=${U_GID[$1]} home file dir created=0 added=true cur
  local -a existing=() all=()
  resolve_in_root "${U_HOME[$user]}" || return 1
  home=$RESOLVED
  existing_key_files_of "$user"
  all=("${KEY_FILES[@]}")
  existing=("${EXISTING_FILES[@]}")
  ((${#all[@]} > 0)) || return 1
  if ((${#existing[@]} > 0)); then
    file=${existing[0]}
  else
    file=${all[0]}
  fi
  if ((${#existing[@]} > 0)) && key_present "${existing[@]}"; then
    added=false
  else
    dir=${file%/*}
    local in_home=""
    [[ $file == "$home"/* && $home != / ]] && in_home=$home
    ensure_dirs "${dir:-/}" "$in_home" "$uid" "$gid"
    if [[ ! -e $MNT$file ]]; then
      : >"$MNT$file"
      created=1
    fi
    # Replace a key an earlier run of this same job added, keep everything else.
    awk -v c="$KEY_COMMENT" 'NF == 0 || $NF != c' "$MNT$file" >"$WORK/ak"
    printf '%s\n' "$PUBKEY" >>"$WORK/ak"
    cat "$WORK/ak" >"$MNT$file"
    if [[ -n $in_home ]]; then
      chmod 0600 "$MNT$file"
      chown "$uid:$gid" "$MNT$file"
      label "$file" "$SSH_HOME_CONTEXT"
      # The directories between the home and the file (usually just .ssh): sshd's StrictModes.
      cur=$dir
      while [[ $cur == "$home"/* ]]; do
        chmod 0700 "$MNT$cur"
        chown "$uid:$gid" "$MNT$cur"
        label "$cur" "$SSH_HOME_CONTEXT"
        cur=${cur%/*}
      done
    elif ((created)); then
      chmod 0600 "$MNT$file"
      chown "$uid:$gid" "$MNT$file"
    fi
  fi
  json_str "$user"
  USERS_JSON+="${USERS_JSON:+,}{\"user\":$REPLY"
  json_str "$file"
  USERS_JSON+=",\"file\":$REPLY,\"added\":$added}"
}

# ---------------------------------------------------------------------------------------------------

# Sets SELECTED to the login users of the tree at MNT (described as $1 in messages), or fails.
choose_users() {
  read_passwd
  parse_sshd_file /etc/ssh/sshd_config 0
  select_users
  ((${#SELECTED[@]} > 0)) || fail NO_LOGIN_USER "no login user found on $1: no default cloud user ($KNOWN_LOGIN_USERS) in /etc/passwd, no user with an authorized_keys file that sshd reads, and root is not allowed or has no keys"
  log "users: ${SELECTED[*]}"
  read_selinux_mode
}

# Adds PUBKEY for every SELECTED user, or fails when sshd reads no file for any of them.
write_keys() {
  local user written=0
  for user in "${SELECTED[@]}"; do
    if add_key_for_user "$user"; then written=1; else log "no authorized_keys file for $user (AuthorizedKeysFile none?)"; fi
  done
  ((written)) || fail NO_LOGIN_USER "sshd on $1 reads no authorized_keys file (AuthorizedKeysFile none)"
}

main_offline() {
  validate_inputs
  make_workdir
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

  choose_users "$RA_VOLUME_ID"

  choose_key_type
  generate_key
  put_parameter
  write_keys "$RA_VOLUME_ID"
  if [[ $SELINUX_LABELLED == false ]]; then
    # Labels could not be set from here: relabel at the next boot (slow, but sshd will read the key).
    : >"$MNT/.autorelabel"
  fi
  sync -f "$MNT" 2>/dev/null || sync

  # The summary: one line of JSON.
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
  json_str "$SELINUX_MODE"
  JSON+=",\"selinux\":{\"mode\":$REPLY,\"labelled\":$SELINUX_LABELLED}"
  JSON+=",\"users\":[$USERS_JSON]"
  jfield parameterName "$RA_PARAMETER_NAME"
  jfield keyType "$KEY_TYPE"
  jfield fingerprint "$FINGERPRINT"
  jfield publicKey "$PUBKEY"
  JSON+='}'
  cleanup || fail MOUNT_FAILED "the volume was updated but could not be unmounted or deactivated cleanly"
  RESULT_PRINTED=1
  printf '%s\n' "$JSON"
}

# Online: the running system's own tree at RA_TARGET_ROOT, the service's public key.
main_online() {
  validate_online_inputs
  make_workdir
  log "job $RA_JOB_ID: online on ${RA_TARGET_INSTANCE_ID:-this instance}, root $RA_TARGET_ROOT"
  choose_users "the instance"
  use_given_key
  write_keys "the instance"
  if [[ $SELINUX_LABELLED == false && $SELINUX_MODE == enforcing ]]; then
    # Offline, a relabel at the next boot fixes this; a running system's sshd would refuse the file now.
    fail SELINUX_LABEL_FAILED "the key was added but its SELinux label could not be set (setfattr and chcon failed): sshd in enforcing mode would not read it"
  fi
  sync -f "${MNT:-/}" 2>/dev/null || sync

  JSON='{"ok":true'
  jfield mode online
  jfield root "$RA_TARGET_ROOT"
  json_str "$SELINUX_MODE"
  JSON+=",\"selinux\":{\"mode\":$REPLY,\"labelled\":$SELINUX_LABELLED}"
  JSON+=",\"users\":[$USERS_JSON]"
  jfield keyType "$KEY_TYPE"
  jfield fingerprint "$FINGERPRINT"
  jfield publicKey "$PUBKEY"
  JSON+='}'
  cleanup || true
  RESULT_PRINTED=1
  printf '%s\n' "$JSON"
}

main() {
  if [[ -n $RA_TARGET_ROOT ]]; then main_online; else main_offline; fi
}

main "$@"
