#!/usr/bin/env bash
# ec2-reset-access: the NTFS rescue script. Runs as root on a LINUX helper through SSM Run Command
# (AWS-RunShellScript) while a Windows target's root volume is attached to the helper, and turns the
# target's administrator password generation back on with small file edits on its NTFS volume: what
# windows-rescue.ps1 does on a Windows helper, without waiting for Windows to boot.
#
# Per agent (the rules of infra/sim/windows-rescue-model.ts; sources in docs/ntfs-rescue.md):
#   EC2Launch v2: setAdminAccount gets "password: type: random" in agent-config.yml (the model's line
#     rules), and state\.run-once is deleted so that every once-task runs again at the next boot.
#   EC2Launch v1: adminPasswordType -> Random in LaunchConfig.json, only while its initialization
#     task (Windows\System32\Tasks\Amazon Ec2 Launch - Instance Initialization) is there and enabled.
#   EC2Config: plugin Ec2SetPassword -> Enabled in Settings\config.xml.
# With more than one agent installed, only those that Windows will start count: a service's Start
# value in the SYSTEM hive (read only, with hivexget), EC2Launch v1's scheduled task.
#
# It refuses (ok:false, fallback:true: the volume is as it was, or cleanly edited and unmounted, and
# the Windows helper may take over) when it cannot be sure: BitLocker, dynamic disks, no Windows,
# a configuration its rules do not cover, EC2Launch v1 without its task, a hibernated or unclean
# volume, no ntfs-3g. NTFS safety: ntfs-3g only, with norecover (its default "recover" clears an
# unclean journal), never remove_hiberfile, never the kernel's ntfs3; the read-write mount is checked
# (ntfs-3g silently mounts read-only when Windows did not shut down cleanly); files are edited in
# place (same inode, so their security descriptors stay); the script waits for ntfs-3g to exit
# after unmounting (it flushes after umount returns).
#
# Inputs (environment, set by the header that buildNtfsRescueCommands writes):
#   RA_JOB_ID RA_TARGET_INSTANCE_ID RA_VOLUME_ID
#   RA_DEVICE_HINTS (default "/dev/sdf /dev/xvdf")  RA_DEVICE_WAIT_SECONDS (default 30)
#   RA_NTFS_EXIT_WAIT_SECONDS (default 120): how long ntfs-3g may take to exit after umount.
# Test hooks, never set in production: RA_DEV_ROOT (default /dev), RA_MOUNT_BASE (default /mnt),
#   RA_SKIP_HELPER_ROOT_CHECK.
#
# Output: stdout carries exactly one line, the JSON summary (SSM keeps 24,000 characters of it);
# everything else goes to stderr.
#   {"ok":true,"script":"ntfs-rescue","helper":"linux",...,"agents":[...],"filesChanged":[...],
#    "filesRemoved":[...],"warnings":[...]}
#   {"ok":false,"script":"ntfs-rescue","helper":"linux","error":"CODE","message":"...",
#    "fallback":true|false,"volumeWritten":true|false}  (exit code 1)
set -Eeuo pipefail
umask 077
export LC_ALL=C

RA_JOB_ID=${RA_JOB_ID:-}
RA_TARGET_INSTANCE_ID=${RA_TARGET_INSTANCE_ID:-}
RA_VOLUME_ID=${RA_VOLUME_ID:-}
RA_DEVICE_HINTS=${RA_DEVICE_HINTS:-/dev/sdf /dev/xvdf}
RA_DEVICE_WAIT_SECONDS=${RA_DEVICE_WAIT_SECONDS:-30}
RA_NTFS_EXIT_WAIT_SECONDS=${RA_NTFS_EXIT_WAIT_SECONDS:-120}
RA_DEV_ROOT=${RA_DEV_ROOT:-/dev}
RA_MOUNT_BASE=${RA_MOUNT_BASE:-/mnt}
RA_SKIP_HELPER_ROOT_CHECK=${RA_SKIP_HELPER_ROOT_CHECK:-}

SCRIPT_NAME=ntfs-rescue
# Where the files are inside the Windows partition (looked up case-insensitively).
P_SYSTEM_HIVE=/Windows/System32/config/SYSTEM
P_V2_CONFIG=/ProgramData/Amazon/EC2Launch/config/agent-config.yml
P_V2_RUN_ONCE=/ProgramData/Amazon/EC2Launch/state/.run-once
P_V1_CONFIG=/ProgramData/Amazon/EC2-Windows/Launch/Config/LaunchConfig.json
P_V1_TASK="/Windows/System32/Tasks/Amazon Ec2 Launch - Instance Initialization"
P_EC2CONFIG=/Program\ Files/Amazon/Ec2ConfigService/Settings/config.xml
# The services of the agents that run as one (EC2Launch v1 is a scheduled task).
SERVICE_V2=EC2Launch
SERVICE_EC2CONFIG=Ec2Config
# GPT partition types of Windows dynamic disks (LDM metadata, LDM data) and Storage Spaces.
DYNAMIC_GPT_TYPES=" 5808c8aa-7e8f-42e0-85d2-e1e90434cfb3 af9b60a0-1431-4f62-bc68-3311714a69ad e75caf8f-f680-4cee-afa3-b001e56efc2d "
V2_WARNING='EC2Launch v2 runs every task of frequency "once" again at the next boot (setAdminAccount among them, and any once-scripts of yours)'
V1_NOT_SCHEDULED_WARNING='EC2Launch v1 initialises only when InitializeInstance.ps1 -Schedule has registered its task, which cannot be done on an offline volume; its configuration was left alone'

RESULT_PRINTED=0
ERR_LINE=""
WORK=""
MNT=""
PROBE=""
MOUNTED=()      # mount points, newest last
MOUNT_PIDS=()   # the ntfs-3g process serving each of them
VOLUME_WRITTEN=false
RELEASED=true   # false while a read-write mount of the volume may still be flushing

log() { printf 'ra: %s\n' "$*" >&2; }

JSON=""
# Appends "$1": "$2" (a JSON string) to JSON.
jfield() {
  json_str "$2"
  JSON+=",\"$1\":$REPLY"
}

# Sets REPLY to $1 as a JSON string literal. (No subshells: forks are what makes scripts slow.)
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

# Sets REPLY to the JSON array of strings "$@".
json_arr() {
  local out="" s
  for s in "$@"; do
    json_str "$s"
    out+="${out:+,}$REPLY"
  done
  REPLY="[$out]"
}

# ---------------------------------------------------------------------------------------------------
# Mounts and the ntfs-3g processes behind them

# The pid of the ntfs-3g process serving mount point $1 (it daemonises: found by its command line).
ntfs_pid_of() {
  local d cmd comm
  for d in /proc/[0-9]*; do
    # read, not $(<file): a process that ends meanwhile makes $(<file) fatal to the script.
    read -r comm <"$d/comm" 2>/dev/null || continue
    [[ $comm == *ntfs-3g* ]] || continue
    cmd=$(tr '\0' '\n' <"$d/cmdline" 2>/dev/null) || continue
    if [[ $'\n'$cmd$'\n' == *$'\n'"$1"$'\n'* ]]; then
      REPLY=${d#/proc/}
      return 0
    fi
  done
  return 1
}

# Whether process $1 is still running (a zombie has exited: its flushing is done).
process_alive() {
  local stat
  read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# Unmounts the newest mount and waits for its ntfs-3g process to exit.
unmount_last() {
  local last=$((${#MOUNTED[@]} - 1)) dir pid deadline
  dir=${MOUNTED[last]}
  pid=${MOUNT_PIDS[last]}
  if ! umount "$dir" 2>"$WORK/umount.err"; then
    sync
    sleep 1
    umount "$dir" 2>"$WORK/umount.err" || {
      log "could not unmount $dir: $(sed -n 1p "$WORK/umount.err")"
      return 1
    }
  fi
  unset 'MOUNTED[last]' 'MOUNT_PIDS[last]'
  MOUNTED=("${MOUNTED[@]}")
  MOUNT_PIDS=("${MOUNT_PIDS[@]}")
  if [[ -n $pid ]]; then
    deadline=$((SECONDS + RA_NTFS_EXIT_WAIT_SECONDS))
    while process_alive "$pid"; do
      if ((SECONDS >= deadline)); then
        log "ntfs-3g (pid $pid) for $dir has not exited ${RA_NTFS_EXIT_WAIT_SECONDS}s after umount"
        return 1
      fi
      sleep 0.2
    done
  fi
  return 0
}

# Unmounts everything this run mounted, newest first; removes its directories. Idempotent.
cleanup() {
  local rc=0
  while ((${#MOUNTED[@]} > 0)); do
    if ! unmount_last; then
      rc=1
      break
    fi
  done
  if ((rc == 0)); then
    RELEASED=true
    if [[ -n $MNT ]]; then
      rmdir "$MNT" "$PROBE" 2>/dev/null || true
      rmdir "${MNT%/*}" 2>/dev/null || true
    fi
  fi
  if [[ -n $WORK ]]; then
    rm -rf -- "$WORK"
    WORK=""
  fi
  return "$rc"
}

print_failure() { # $1 code $2 message
  local code=$1 msg=$2 fallback=true
  # A volume that may still be mounted, or a caller's mistake, is not the Windows helper's to take.
  if [[ $RELEASED != true || $code == INVALID_INPUT ]]; then fallback=false; fi
  RESULT_PRINTED=1
  JSON='{"ok":false'
  jfield script "$SCRIPT_NAME"
  jfield helper linux
  jfield error "$code"
  jfield message "$msg"
  JSON+=",\"fallback\":$fallback,\"volumeWritten\":$VOLUME_WRITTEN}"
  printf '%s\n' "$JSON" >&3
}

fail() {
  local code=$1 msg=$2
  log "error $code: $msg"
  if ! cleanup; then
    code=UNMOUNT_FAILED
    msg="$msg; then the volume could not be unmounted, or its ntfs-3g process did not exit: do not detach it before it has"
  fi
  print_failure "$code" "$msg"
  exit 1
}

on_exit() {
  local rc=$?
  if ((RESULT_PRINTED == 0)); then
    local msg="the rescue script stopped unexpectedly (exit $rc, line ${ERR_LINE:-unknown})"
    if cleanup; then print_failure INTERNAL_ERROR "$msg"; else print_failure UNMOUNT_FAILED "$msg; the volume could not be unmounted"; fi
    exit 1
  fi
  cleanup || true
}

# ---------------------------------------------------------------------------------------------------
# Inputs

validate_inputs() {
  [[ $RA_JOB_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || fail INVALID_INPUT "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'"
  [[ $RA_VOLUME_ID =~ ^vol-[0-9a-f]{8,32}$ ]] || fail INVALID_INPUT "RA_VOLUME_ID must look like vol-0123456789abcdef0"
  [[ $RA_DEVICE_WAIT_SECONDS =~ ^[0-9]{1,4}$ ]] || fail INVALID_INPUT "RA_DEVICE_WAIT_SECONDS must be a number"
  [[ $RA_NTFS_EXIT_WAIT_SECONDS =~ ^[0-9]{1,4}$ ]] || fail INVALID_INPUT "RA_NTFS_EXIT_WAIT_SECONDS must be a number"
  local tool
  for tool in blkid lsblk umount dd od cmp findmnt iconv sed tr; do
    command -v "$tool" >/dev/null 2>&1 || fail INVALID_INPUT "the helper has no '$tool' command"
  done
  command -v ntfs-3g >/dev/null 2>&1 || fail NTFS3G_MISSING "the helper has no ntfs-3g (the only NTFS driver this script writes with): use a helper image that has it"
  [[ -e /dev/fuse ]] || fail NTFS3G_MISSING "the helper has no /dev/fuse, which ntfs-3g needs"
}

make_workdir() {
  local base=${TMPDIR:-/tmp}
  [[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
  WORK=$(mktemp -d "$base/ra-ntfs.XXXXXXXX")
  MNT=$RA_MOUNT_BASE/ra-$RA_JOB_ID/root
  PROBE=$RA_MOUNT_BASE/ra-$RA_JOB_ID/probe
  mkdir -p "$MNT" "$PROBE"
}

# ---------------------------------------------------------------------------------------------------
# Device discovery (as linux-rescue.sh)

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

check_not_helper_root() {
  [[ -n $RA_SKIP_HELPER_ROOT_CHECK ]] && return 0
  local src d
  src=$(findmnt -no SOURCE / 2>/dev/null || true)
  src=${src%%\[*}
  [[ $src == /dev/* ]] || return 0
  while IFS= read -r d; do
    [[ -n $d ]] || continue
    if [[ $(readlink -f -- "$d") == "$DISK" ]]; then
      fail DEVICE_NOT_FOUND "$DEVICE resolves to $DISK, the helper's own root disk: refusing to use it for $RA_VOLUME_ID"
    fi
  done < <(lsblk -nlpso NAME,TYPE "$src" 2>/dev/null | awk '$2 == "disk" || $2 == "loop" { print $1 }' || true)
}

# A partition of the volume already mounted: unmount only what an earlier run of this job left.
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
# Partitions

BLOCKS=()
PART_STYLE=none
declare -A FS_TYPE=() P_TYPE=()

list_blocks() {
  mapfile -t BLOCKS < <(lsblk -lnpo NAME,TYPE "$DISK" | awk '$2 == "part" { print $1 }')
  if ((${#BLOCKS[@]} == 0)) && [[ -n $(blkid -p -o value -s PTTYPE "$DISK" 2>/dev/null || true) ]]; then
    # A partition table the kernel has not read yet (no udev, or a race just after attach).
    partx -a "$DISK" >&2 2>/dev/null || true
    mapfile -t BLOCKS < <(lsblk -lnpo NAME,TYPE "$DISK" | awk '$2 == "part" { print $1 }')
  fi
  ((${#BLOCKS[@]} > 0)) || BLOCKS=("$DISK")
  local t
  t=$(blkid -p -o value -s PTTYPE "$DISK" 2>/dev/null || true)
  case $t in dos) PART_STYLE=MBR ;; gpt) PART_STYLE=GPT ;; esac
}

probe_block() { # $1 device: FS_TYPE and P_TYPE from a low-level blkid probe
  local line
  FS_TYPE[$1]=""
  P_TYPE[$1]=""
  while IFS= read -r line; do
    case ${line%%=*} in
      TYPE) FS_TYPE[$1]=${line#*=} ;;
      PART_ENTRY_TYPE) P_TYPE[$1]=${line#*=} ;;
    esac
  done < <(blkid -p -o export "$1" 2>/dev/null || true)
  P_TYPE[$1]=${P_TYPE[$1],,}
}

# Sets REPLY to the bytes of device $1 from offset $2, $3 of them, as decimal numbers (od lines).
read_bytes() {
  REPLY=$(dd if="$1" bs=4096 skip="$2" count="$3" iflag=skip_bytes,count_bytes status=none 2>/dev/null | od -An -v -tu1)
}

# BitLocker writes "-FVE-FS-" as the OEM id of the boot sector of the volumes it encrypts.
is_bitlocker() {
  local -a b
  read_bytes "$1" 3 8
  read -r -d '' -a b <<<"$REPLY" || true
  [[ ${b[*]} == "45 70 86 69 45 70 83 45" ]]
}

DYNAMIC=""
BITLOCKER=()
NTFS_BLOCKS=()
SEEN=""

classify_blocks() {
  local dev t
  for dev in "${BLOCKS[@]}"; do
    probe_block "$dev"
    t=${FS_TYPE[$dev]}
    if [[ ${P_TYPE[$dev]} == 0x42 || $DYNAMIC_GPT_TYPES == *" ${P_TYPE[$dev]} "* ]]; then
      DYNAMIC+="${DYNAMIC:+, }${dev##*/} (partition type ${P_TYPE[$dev]})"
    fi
    if is_bitlocker "$dev"; then
      BITLOCKER+=("$dev")
      t=BitLocker
    elif [[ $t == ntfs ]]; then
      NTFS_BLOCKS+=("$dev")
    fi
    SEEN+="${SEEN:+, }${dev##*/}: ${t:-none}"
  done
  if [[ -n $DYNAMIC ]]; then
    fail DYNAMIC_DISK "$RA_VOLUME_ID is a Windows dynamic disk ($DYNAMIC): its volumes are not plain partitions"
  fi
}

# ---------------------------------------------------------------------------------------------------
# ntfs-3g mounts

MOUNT_ERR=""
# Mounts $1 at $2 with ntfs-3g options $3 and records the mount and its process.
ntfs_mount() {
  # The daemon it leaves must hold none of our descriptors: fd 3 is the summary's pipe to the SSM
  # agent, which waits until every writer has closed it.
  if ! ntfs-3g -o "$3" "$1" "$2" </dev/null >"$WORK/mount.out" 2>&1 3>&-; then
    MOUNT_ERR=$(tr '\n' ' ' <"$WORK/mount.out")
    return 1
  fi
  MOUNTED+=("$2")
  MOUNT_PIDS+=("")
  MOUNT_ERR=$(tr '\n' ' ' <"$WORK/mount.out")
  if ntfs_pid_of "$2"; then
    MOUNT_PIDS[${#MOUNT_PIDS[@]} - 1]=$REPLY
  else
    log "no ntfs-3g process found for $2: cannot wait for it after umount"
  fi
  return 0
}

# The options of the mount at $1 in /proc/mounts (sets REPLY), or fails.
mount_options() {
  local src mp opts _
  while read -r src mp _ opts _; do
    if [[ $mp == "$1" ]]; then
      REPLY=$opts
      return 0
    fi
  done </proc/mounts
  return 1
}

# ---------------------------------------------------------------------------------------------------
# Paths inside the partition: NTFS is case-insensitive for Windows, ntfs-3g is not.

RESOLVED=""
PATH_ERR=""
# Sets RESOLVED to the path under root $1 that Windows would open for $2, matching each component
# case-insensitively (an exact match first). Returns 1 when it does not exist; 2 when a component
# is ambiguous or a link (a reparse point is followed by Windows, not by this script).
ci_resolve() {
  local root=$1 cur="" comp name match n entry
  local -a parts
  IFS=/ read -r -a parts <<<"${2#/}"
  shopt -s nullglob dotglob
  for comp in "${parts[@]}"; do
    [[ -n $comp ]] || continue
    if [[ -e $root$cur/$comp || -L $root$cur/$comp ]]; then
      match=$comp
    else
      match=""
      n=0
      for entry in "$root$cur"/*; do
        name=${entry##*/}
        if [[ ${name,,} == "${comp,,}" ]]; then
          match=$name
          n=$((n + 1))
        fi
      done
      if ((n == 0)); then
        shopt -u nullglob dotglob
        return 1
      fi
      if ((n > 1)); then
        PATH_ERR="more than one entry matches $cur/$comp in another case"
        shopt -u nullglob dotglob
        return 2
      fi
    fi
    if [[ -L $root$cur/$match ]]; then
      PATH_ERR="$cur/$match is a link (reparse point)"
      shopt -u nullglob dotglob
      return 2
    fi
    cur+=/$match
  done
  shopt -u nullglob dotglob
  RESOLVED=${cur:-/}
  return 0
}

# "C:\ProgramData\..." for "/ProgramData/...": how the instance names a file.
WIN_PATH=""
win_path() { WIN_PATH="C:${1//\//\\}"; }

# Sets RESOLVED to the regular file $2 under $1; 1 when absent; fails on an ambiguous path.
find_file() {
  local r=0
  ci_resolve "$1" "$2" || r=$?
  if ((r == 2)); then
    win_path "$2"
    fail CONFIG_NOT_UNDERSTOOD "$WIN_PATH: $PATH_ERR"
  fi
  ((r == 0)) || return 1
  [[ -f $1$RESOLVED ]] || return 1
  return 0
}

# ---------------------------------------------------------------------------------------------------
# File texts: read with their encoding, written back with it

TEXT=""
BOM=""
# Sets TEXT (without a UTF-8 BOM) and BOM from file $1, or sets REPLY to why not and returns 1.
read_text() {
  local head
  head=$(od -An -tx1 -N3 "$1" | tr -d ' \n')
  BOM=""
  if [[ $head == fffe* || $head == feff* ]]; then
    REPLY="UTF-16 text, which this script does not edit"
    return 1
  fi
  if [[ $(tr -d '\000' <"$1" | wc -c) != $(wc -c <"$1") ]]; then
    REPLY="it contains NUL bytes"
    return 1
  fi
  TEXT=$(
    cat -- "$1"
    printf x
  )
  TEXT=${TEXT%x}
  if [[ $head == efbbbf ]]; then
    BOM=$'\xef\xbb\xbf'
    TEXT=${TEXT#"$BOM"}
  fi
  return 0
}

# ---------------------------------------------------------------------------------------------------
# EC2Launch v2: agent-config.yml, by the line rules of ensureRandomAdminPasswordYaml (the model).

L=()            # the lines
CHANGES=()
EDIT_ERR=""
# The patterns of AGENT_CONFIG_LINE_PATTERNS (the model), with the quote back-reference spelt out.
TASK_RE="^[[:space:]]*-[[:space:]]+task:[[:space:]]*(setAdminAccount|'setAdminAccount'|\"setAdminAccount\")[[:space:]]*(#.*)?\$"
PRE_READY_RE="^[[:space:]]*-[[:space:]]+stage:[[:space:]]*(preReady|'preReady'|\"preReady\")[[:space:]]*(#.*)?\$"

y_indent() { # $1 line: REPLY = its indentation
  local t=${1#"${1%%[![:space:]]*}"}
  REPLY=$((${#1} - ${#t}))
}
y_content() { # $1 line: not blank, not a comment
  local t=${1#"${1%%[![:space:]]*}"}
  [[ -n $t && $t != \#* ]]
}
y_sp() { printf -v REPLY '%*s' "$1" ''; }
y_block_end() { # start ind [limit]: first content line after start indented ind or less
  local j limit=${3:-${#L[@]}}
  for ((j = $1 + 1; j < limit; j++)); do
    if y_content "${L[j]}"; then
      y_indent "${L[j]}"
      if ((REPLY <= $2)); then
        REPLY=$j
        return 0
      fi
    fi
  done
  REPLY=$limit
}
y_sequence_end() { # start ind [limit]: like y_block_end, but "- " items may sit at ind
  local j limit=${3:-${#L[@]}} t
  for ((j = $1 + 1; j < limit; j++)); do
    y_content "${L[j]}" || continue
    y_indent "${L[j]}"
    t=${L[j]#"${L[j]%%[![:space:]]*}"}
    if ((REPLY < $2)) || { ((REPLY == $2)) && [[ $t != -* ]]; }; then
      REPLY=$j
      return 0
    fi
  done
  REPLY=$limit
}
y_append_point() { # start end
  local j
  for ((j = $2 - 1; j > $1; j--)); do
    if y_content "${L[j]}"; then
      REPLY=$((j + 1))
      return 0
    fi
  done
  REPLY=$(($1 + 1))
}
y_find_key() { # start end ind key: first content line in (start, end) at ind starting "key:"
  local j
  for ((j = $1 + 1; j < $2; j++)); do
    y_content "${L[j]}" || continue
    y_indent "${L[j]}"
    ((REPLY == $3)) || continue
    if [[ ${L[j]} =~ ^[[:space:]]*$4: ]]; then
      REPLY=$j
      return 0
    fi
  done
  REPLY=-1
}
y_child_indent() { # start end fallback
  local j
  for ((j = $1 + 1; j < $2; j++)); do
    if y_content "${L[j]}"; then
      y_indent "${L[j]}"
      return 0
    fi
  done
  REPLY=$3
}
y_empty_key() { [[ $1 =~ ^[[:space:]]*$2:[[:space:]]*(#.*)?$ ]]; }
y_insert() { # at lines...
  local at=$1
  shift
  L=("${L[@]:0:at}" "$@" "${L[@]:at}")
}
y_remove() { # from to (exclusive)
  L=("${L[@]:0:$1}" "${L[@]:$2}")
}
y_bare_value() { # $1: the value without a trailing comment, trimmed, unquoted
  local v=$1 i c cut=-1 j
  # The first whitespace run followed by "#" starts the comment.
  for ((i = 0; i < ${#v}; i++)); do
    c=${v:i:1}
    if [[ $c == [[:space:]] ]]; then
      j=$i
      while ((j < ${#v})) && [[ ${v:j:1} == [[:space:]] ]]; do j=$((j + 1)); done
      if [[ ${v:j:1} == '#' ]]; then
        cut=$i
        break
      fi
      i=$((j - 1))
    fi
  done
  ((cut < 0)) || v=${v:0:cut}
  v=${v#"${v%%[![:space:]]*}"}
  v=${v%"${v##*[![:space:]]}"}
  if ((${#v} >= 2)) && [[ (${v:0:1} == "'" || ${v:0:1} == '"') && ${v: -1} == "${v:0:1}" ]]; then
    v=${v:1:${#v}-2}
  fi
  REPLY=$v
}
y_task_lines() { # indent: the four lines of a setAdminAccount task with a random password
  local a b c d
  y_sp "$1"
  a=$REPLY
  y_sp $(($1 + 2))
  b=$REPLY
  y_sp $(($1 + 4))
  c=$REPLY
  y_sp $(($1 + 6))
  d=$REPLY
  TASK_LINES=("$a- task: setAdminAccount" "${b}inputs:" "${c}password:" "${d}type: random")
}

# Makes setAdminAccount set a random password in the lines L; sets CHANGES, or EDIT_ERR and 1.
yaml_ensure_random() {
  local -a tasks=() task_changes
  local i n mentions=0 t d k end inputs inputs_end ci password password_end pc data data_end type current removed sp1 sp2 sp3 line
  CHANGES=()
  for ((i = 0; i < ${#L[@]}; i++)); do
    [[ ${L[i]} =~ $TASK_RE ]] && tasks+=("$i")
    line=${L[i]%%#*}
    [[ $line == *setAdminAccount* ]] && mentions=$((mentions + 1))
  done
  if ((mentions != ${#tasks[@]})); then
    EDIT_ERR='setAdminAccount appears in a form other than "- task: setAdminAccount"'
    return 1
  fi
  # From the last task up, so that inserted lines do not move the ones still to do.
  for ((n = ${#tasks[@]} - 1; n >= 0; n--)); do
    t=${tasks[n]}
    task_changes=()
    y_indent "${L[t]}"
    d=$REPLY
    line=${L[t]%%task:*}
    k=${#line}
    y_block_end "$t" "$d"
    end=$REPLY
    y_find_key "$t" "$end" "$k" inputs
    inputs=$REPLY
    if ((inputs < 0)); then
      y_append_point "$t" "$end"
      i=$REPLY
      y_sp "$k"
      sp1=$REPLY
      y_sp $((k + 2))
      sp2=$REPLY
      y_sp $((k + 4))
      sp3=$REPLY
      y_insert "$i" "${sp1}inputs:" "${sp2}password:" "${sp3}type: random"
      task_changes+=('setAdminAccount: added password type random')
    elif ! y_empty_key "${L[inputs]}" inputs; then
      EDIT_ERR='setAdminAccount inputs are not a block mapping'
      return 1
    else
      y_block_end "$inputs" "$k" "$end"
      inputs_end=$REPLY
      y_child_indent "$inputs" "$inputs_end" $((k + 2))
      ci=$REPLY
      y_find_key "$inputs" "$inputs_end" "$ci" password
      password=$REPLY
      if ((password < 0)); then
        y_append_point "$inputs" "$inputs_end"
        i=$REPLY
        y_sp "$ci"
        sp1=$REPLY
        y_sp $((ci + 2))
        sp2=$REPLY
        y_insert "$i" "${sp1}password:" "${sp2}type: random"
        task_changes+=('setAdminAccount: added password type random')
      elif ! y_empty_key "${L[password]}" password; then
        EDIT_ERR='setAdminAccount password is not a block mapping'
        return 1
      else
        y_block_end "$password" "$ci" "$inputs_end"
        password_end=$REPLY
        y_child_indent "$password" "$password_end" $((ci + 2))
        pc=$REPLY
        # A static password's data (and the lines of a multi-line value) goes: it is a password in clear text.
        removed=0
        while :; do
          y_find_key "$password" "$password_end" "$pc" data
          data=$REPLY
          ((data >= 0)) || break
          y_block_end "$data" "$pc" "$password_end"
          data_end=$REPLY
          y_remove "$data" "$data_end"
          password_end=$((password_end - (data_end - data)))
          removed=1
        done
        y_find_key "$password" "$password_end" "$pc" type
        type=$REPLY
        y_sp "$pc"
        sp1=$REPLY
        if ((type < 0)); then
          y_insert $((password + 1)) "${sp1}type: random"
          task_changes+=('setAdminAccount: added password type random')
        else
          line=${L[type]#*type:}
          y_bare_value "$line"
          current=$REPLY
          if [[ ${current,,} != random ]]; then
            L[type]="${sp1}type: random"
            task_changes+=("setAdminAccount: password type ${current:-(empty)} -> random")
          fi
        fi
        ((removed == 0)) || task_changes+=('setAdminAccount: removed the static password data')
      fi
    fi
    CHANGES=("${task_changes[@]}" "${CHANGES[@]}")
  done
  ((${#tasks[@]} == 0)) || return 0

  local stage=-1 sd sk tasks_key seq_end ti config si
  for ((i = 0; i < ${#L[@]}; i++)); do
    if [[ ${L[i]} =~ $PRE_READY_RE ]]; then
      stage=$i
      break
    fi
  done
  if ((stage >= 0)); then
    y_indent "${L[stage]}"
    sd=$REPLY
    line=${L[stage]%%stage:*}
    sk=${#line}
    y_block_end "$stage" "$sd"
    end=$REPLY
    y_find_key "$stage" "$end" "$sk" tasks
    tasks_key=$REPLY
    if ((tasks_key < 0)); then
      y_append_point "$stage" "$end"
      i=$REPLY
      y_sp "$sk"
      sp1=$REPLY
      y_task_lines "$sk"
      y_insert "$i" "${sp1}tasks:" "${TASK_LINES[@]}"
    else
      if [[ ${L[tasks_key]} =~ ^[[:space:]]*tasks:[[:space:]]*\[[[:space:]]*\][[:space:]]*(#.*)?$ ]]; then
        y_sp "$sk"
        L[tasks_key]="${REPLY}tasks:"
      elif ! y_empty_key "${L[tasks_key]}" tasks; then
        EDIT_ERR='the preReady tasks are not a block sequence'
        return 1
      fi
      y_sequence_end "$tasks_key" "$sk" "$end"
      seq_end=$REPLY
      ti=$sk
      for ((i = tasks_key + 1; i < seq_end; i++)); do
        line=${L[i]#"${L[i]%%[![:space:]]*}"}
        if y_content "${L[i]}" && [[ $line == -* ]]; then
          y_indent "${L[i]}"
          ti=$REPLY
          break
        fi
      done
      y_append_point "$tasks_key" "$seq_end"
      i=$REPLY
      y_task_lines "$ti"
      y_insert "$i" "${TASK_LINES[@]}"
    fi
    CHANGES=('setAdminAccount: added to the preReady stage with password type random')
    return 0
  fi

  config=-1
  for ((i = 0; i < ${#L[@]}; i++)); do
    if [[ ${L[i]} =~ ^config:[[:space:]]*(#.*)?$ ]]; then
      config=$i
      break
    fi
  done
  if ((config < 0)); then
    EDIT_ERR='no top-level "config:" sequence of stages'
    return 1
  fi
  y_sequence_end "$config" 0
  end=$REPLY
  si=0
  for ((i = config + 1; i < end; i++)); do
    if [[ ${L[i]} =~ ^[[:space:]]*-[[:space:]]+stage: ]]; then
      y_indent "${L[i]}"
      si=$REPLY
      break
    fi
  done
  y_append_point "$config" "$end"
  i=$REPLY
  y_sp "$si"
  sp1=$REPLY
  y_sp $((si + 2))
  sp2=$REPLY
  y_task_lines $((si + 2))
  y_insert "$i" "${sp1}- stage: preReady" "${sp2}tasks:" "${TASK_LINES[@]}"
  CHANGES=('setAdminAccount: added a preReady stage with password type random')
  return 0
}

# Splits TEXT into L as the model does (split on \r?\n); NEWLINE is what joins them back.
NEWLINE=$'\n'
split_lines() {
  local -a raw=()
  local i last
  NEWLINE=$'\n'
  [[ $TEXT == *$'\r\n'* ]] && NEWLINE=$'\r\n'
  mapfile -t raw < <(printf '%s' "$TEXT")
  # mapfile drops the empty last piece after a final newline (and an empty text's only piece).
  if [[ -z $TEXT || $TEXT == *$'\n' ]]; then raw+=(""); fi
  last=$((${#raw[@]} - 1))
  for ((i = 0; i < last; i++)); do raw[i]=${raw[i]%$'\r'}; done
  L=("${raw[@]}")
}
join_lines() {
  local i out=""
  for ((i = 0; i < ${#L[@]}; i++)); do
    ((i == 0)) || out+=$NEWLINE
    out+=${L[i]}
  done
  REPLY=$out
}

# Sets NEW_TEXT and CHANGES for agent-config.yml text TEXT, or EDIT_ERR and 1.
NEW_TEXT=""
edit_agent_config() {
  local t=${TEXT#"${TEXT%%[![:space:]]*}"}
  if [[ $t == '{'* ]]; then
    EDIT_ERR='written as JSON, which this script does not rewrite (the Windows helper does)'
    return 1
  fi
  split_lines
  yaml_ensure_random || return 1
  if ((${#CHANGES[@]} == 0)); then
    NEW_TEXT=$TEXT
  else
    join_lines
    NEW_TEXT=$REPLY
  fi
}

# ---------------------------------------------------------------------------------------------------
# EC2Launch v1: LaunchConfig.json (ensureRandomLaunchConfigText, the NTFS model: one textual edit
# of a flat JSON object), and whether its initialization task is scheduled (taskEnabled).

edit_launch_config() {
  local flat re value
  flat=$(printf '%s' "$TEXT" | sed -E 's/"([^"\\]|\\.)*"//g')
  flat=${flat#"${flat%%[![:space:]]*}"}
  flat=${flat%"${flat##*[![:space:]]}"}
  if ! [[ $flat =~ ^\{[^][{}]*\}$ ]]; then
    EDIT_ERR='not a flat JSON object'
    return 1
  fi
  local rest=$TEXT count=0
  re='"[aA][dD][mM][iI][nN][pP][aA][sS][sS][wW][oO][rR][dD][tT][yY][pP][eE]"[[:space:]]*:'
  while [[ $rest =~ $re ]]; do
    count=$((count + 1))
    rest=${rest#*"${BASH_REMATCH[0]}"}
  done
  if ((count == 0)); then
    EDIT_ERR='no "adminPasswordType" setting'
    return 1
  fi
  if ((count > 1)); then
    EDIT_ERR='more than one "adminPasswordType" setting'
    return 1
  fi
  re="^(.*${re}[[:space:]]*)(\"[^\"\\\\]*\"|[^,}[:space:]]*)(.*)\$"
  if ! [[ $TEXT =~ $re ]] || [[ ${BASH_REMATCH[2]} != \"*\" ]]; then
    EDIT_ERR='"adminPasswordType" is not a plain string'
    return 1
  fi
  value=${BASH_REMATCH[2]:1:${#BASH_REMATCH[2]}-2}
  CHANGES=()
  if [[ $value == Random ]]; then
    NEW_TEXT=$TEXT
    return 0
  fi
  NEW_TEXT="${BASH_REMATCH[1]}\"Random\"${BASH_REMATCH[3]}"
  CHANGES=("adminPasswordType ${value:-(empty)} -> Random")
}

# Whether the task definition file $1 exists and is not disabled (<Settings><Enabled>false).
TASK_ERR=""
task_enabled() {
  local file=$1 head text lc rest after inner=""
  head=$(od -An -tx1 -N2 "$file" | tr -d ' \n')
  if [[ $head == fffe || $head == feff ]]; then
    # Task Scheduler writes its task files in UTF-16.
    if ! text=$(iconv -f UTF-16 -t UTF-8 <"$file" 2>/dev/null); then
      TASK_ERR="not readable as UTF-16"
      return 2
    fi
  else
    text=$(tr -d '\000' <"$file")
  fi
  lc=${text,,}
  rest=$lc
  while [[ $rest == *"<settings"* ]]; do
    rest=${rest#*"<settings"}
    [[ $rest =~ ^[a-z0-9_] ]] && continue
    [[ $rest == *">"* ]] || break
    after=${rest#*>}
    [[ $after == *"</settings>"* ]] || break
    inner=${after%%"</settings>"*}
    break
  done
  ! [[ $inner =~ \<enabled\>[[:space:]]*false[[:space:]]*\</enabled\> ]]
}

# ---------------------------------------------------------------------------------------------------
# EC2Config: config.xml (ensureEc2SetPasswordEnabled, the model's textual edit)

# Sets REPLY to the trimmed content of the first <State>…</State> (no "<" inside) of $1; 1 if none.
xml_first_state() {
  local rest=$1 after seg
  while [[ $rest == *"<State>"* ]]; do
    rest=${rest#*"<State>"}
    seg=${rest%%<*}
    if [[ ${rest:${#seg}} == "</State>"* ]]; then
      seg=${seg#"${seg%%[![:space:]]*}"}
      REPLY=${seg%"${seg##*[![:space:]]}"}
      return 0
    fi
  done
  return 1
}

# $1 with its first <State>…</State> (no "<" inside) set to Enabled (REPLY).
xml_enable_first_state() {
  local rest=$1 done_part="" seg
  while [[ $rest == *"<State>"* ]]; do
    done_part+=${rest%%"<State>"*}
    rest=${rest#*"<State>"}
    seg=${rest%%<*}
    if [[ ${rest:${#seg}} == "</State>"* ]]; then
      REPLY="$done_part<State>Enabled</State>${rest:${#seg}+8}"
      return 0
    fi
    done_part+="<State>"
  done
  REPLY=$1
}

edit_ec2config() {
  local xml=$TEXT out="" rest head tail name after_name body remainder whole state="" found=0 re
  if [[ $xml != *"<Plugins>"*"</Plugins>"* ]]; then
    EDIT_ERR='no <Plugins> element'
    return 1
  fi
  re='^([[:space:]]*<Name>[[:space:]]*)([^<]*)</Name>'
  rest=$xml
  while [[ $rest == *"<Plugin>"* ]]; do
    head=${rest%%"<Plugin>"*}
    tail=${rest#*"<Plugin>"}
    if [[ $tail =~ $re ]]; then
      name=${BASH_REMATCH[2]}
      name=${name%"${name##*[![:space:]]}"}
      after_name=${tail:${#BASH_REMATCH[0]}}
      if [[ $after_name == *"</Plugin>"* ]]; then
        body=${after_name%%"</Plugin>"*}
        remainder=${after_name#*"</Plugin>"}
        whole="<Plugin>${BASH_REMATCH[0]}$body</Plugin>"
        if [[ $name == Ec2SetPassword ]]; then
          if ((found == 0)); then
            found=1
            if xml_first_state "$body"; then state=$REPLY; else state=""; fi
          fi
          if [[ $body == *"<State>"* ]]; then
            xml_enable_first_state "$whole"
            whole=$REPLY
          else
            whole="${whole%</Plugin>}<State>Enabled</State></Plugin>"
          fi
        fi
        out+=$head$whole
        rest=$remainder
        continue
      fi
    fi
    out+="$head<Plugin>"
    rest=$tail
  done
  out+=$rest
  CHANGES=()
  if ((found)); then
    if [[ $state == Enabled ]]; then
      NEW_TEXT=$xml
      return 0
    fi
    NEW_TEXT=$out
    CHANGES=("Ec2SetPassword ${state:-(no state)} -> Enabled")
    return 0
  fi
  local nl=$'\n' before ws indent blank=$' \t'
  [[ $xml == *$'\r\n'* ]] && nl=$'\r\n'
  before=${xml%%"</Plugins>"*}
  ws=${before##*[!"$blank"]}
  indent="$ws  "
  NEW_TEXT="${before:0:${#before}-${#ws}}$indent<Plugin>$nl$indent  <Name>Ec2SetPassword</Name>$nl$indent  <State>Enabled</State>$nl$indent</Plugin>$nl${xml:${#before}-${#ws}}"
  CHANGES=('Ec2SetPassword added, Enabled')
}

# ---------------------------------------------------------------------------------------------------
# The SYSTEM hive, read only: the Start value of a service in the current control set.

HIVE=""
CONTROL_SET=""
declare -A SERVICE_START=()
# Sets REPLY to the Start value of service $1 ("" when the service is not there); 2 when the hive
# cannot be read.
service_start() {
  local v
  if [[ -z $CONTROL_SET ]]; then
    command -v hivexget >/dev/null 2>&1 || {
      REPLY="the helper has no hivexget (libhivex-bin) to read the SYSTEM hive"
      return 2
    }
    if ! v=$(hivexget "$HIVE" 'Select' Current 2>"$WORK/hive.err") || ! [[ $v =~ ^[0-9]+$ ]]; then
      REPLY="the SYSTEM hive has no readable Select\\Current ($(sed -n 1p "$WORK/hive.err"))"
      return 2
    fi
    printf -v CONTROL_SET 'ControlSet%03d' "$v"
  fi
  if ! v=$(hivexget "$HIVE" "$CONTROL_SET\\Services\\$1" Start 2>"$WORK/hive.err"); then
    # hivexget says which part of the path or the value it did not find.
    if grep -qi 'not found\|no such' "$WORK/hive.err"; then
      REPLY=""
      return 0
    fi
    REPLY="hivexget $CONTROL_SET\\Services\\$1 Start failed: $(sed -n 1p "$WORK/hive.err")"
    return 2
  fi
  [[ $v =~ ^[0-9]+$ ]] || {
    REPLY="$CONTROL_SET\\Services\\$1\\Start is not a number ($v)"
    return 2
  }
  REPLY=$v
}

# ---------------------------------------------------------------------------------------------------
# The plan: every edit worked out on the read-only mount before anything is written.

AGENTS_JSON=""
WARNINGS=()
W_PATHS=()   # files to write (volume paths, as resolved)
W_SOURCES=() # their new content, in WORK
W_SHOWN=()   # as the instance names them
R_PATHS=()   # files to remove
R_SHOWN=()
GENERATES=0

add_agent() { # agent config generates changes...
  local agent=$1 config=$2 gen=$3
  shift 3
  json_str "$agent"
  local a=$REPLY
  json_str "$config"
  local c=$REPLY
  json_arr "$@"
  AGENTS_JSON+="${AGENTS_JSON:+,}{\"agent\":$a,\"config\":$c,\"generatesPassword\":$gen,\"changes\":$REPLY}"
  [[ $gen == true ]] && GENERATES=$((GENERATES + 1))
  return 0
}

plan_write() { # volume path, shown name: NEW_TEXT (with BOM) goes to a work file
  local n=${#W_PATHS[@]}
  printf '%s' "$BOM$NEW_TEXT" >"$WORK/new-$n"
  W_PATHS+=("$1")
  W_SOURCES+=("$WORK/new-$n")
  W_SHOWN+=("$2")
}

plan() {
  local root=$1 v2="" v1="" ec2config="" task="" shown
  local -a installed=()
  if find_file "$root" "$P_V2_CONFIG"; then v2=$RESOLVED; installed+=(ec2launch-v2); fi
  if find_file "$root" "$P_V1_CONFIG"; then v1=$RESOLVED; installed+=(ec2launch-v1); fi
  if find_file "$root" "$P_EC2CONFIG"; then ec2config=$RESOLVED; installed+=(ec2config); fi
  if ((${#installed[@]} == 0)); then
    local a b c
    win_path "$P_V2_CONFIG"
    a=$WIN_PATH
    win_path "$P_V1_CONFIG"
    b=$WIN_PATH
    win_path "$P_EC2CONFIG"
    c=$WIN_PATH
    fail NO_LAUNCH_AGENT "no launch agent configuration on the volume (looked for $a, $b, $c)"
  fi
  log "launch agents installed: ${installed[*]}"

  local v1_scheduled=false r
  if [[ -n $v1 ]]; then
    if find_file "$root" "$P_V1_TASK"; then
      task=$RESOLVED
      r=0
      task_enabled "$root$task" || r=$?
      if ((r == 2)); then
        win_path "$P_V1_TASK"
        fail CONFIG_NOT_UNDERSTOOD "$WIN_PATH: $TASK_ERR"
      fi
      ((r == 0)) && v1_scheduled=true
    fi
  fi

  # More than one agent: only those Windows will start count (services: Start 0-2, automatic or
  # earlier; EC2Launch v1: its scheduled task).
  local -A active=()
  local a
  for a in "${installed[@]}"; do active[$a]=1; done
  if ((${#installed[@]} > 1)); then
    ci_resolve "$root" "$P_SYSTEM_HIVE" || true
    HIVE=$root$RESOLVED
    for a in "${installed[@]}"; do
      local service=""
      case $a in
        ec2launch-v2) service=$SERVICE_V2 ;;
        ec2config) service=$SERVICE_EC2CONFIG ;;
        ec2launch-v1) [[ $v1_scheduled == true ]] || unset 'active[ec2launch-v1]' ;;
      esac
      [[ -n $service ]] || continue
      r=0
      service_start "$service" || r=$?
      if ((r == 2)); then
        fail SERVICE_STATE_UNKNOWN "more than one launch agent is installed (${installed[*]}) and which one Windows starts is unknown: $REPLY"
      fi
      SERVICE_START[$service]=$REPLY
      if [[ -z $REPLY ]] || ((REPLY > 2)); then
        unset "active[$a]"
        log "$a: service $service ${REPLY:+has Start $REPLY (not started at boot)}${REPLY:-is not registered}"
      fi
    done
    if ((${#active[@]} == 0)); then
      fail NO_ACTIVE_AGENT "more than one launch agent is installed (${installed[*]}) but none is set to run at boot (services ${SERVICE_V2}/${SERVICE_EC2CONFIG} not automatic, EC2Launch v1 task not scheduled)"
    fi
  fi

  local -a changes
  # Files are named as the Windows script names them (the documented paths; NTFS ignores case).
  if [[ -n $v2 ]]; then
    win_path "$P_V2_CONFIG"
    shown=$WIN_PATH
    if [[ -z ${active[ec2launch-v2]:-} ]]; then
      add_agent ec2launch-v2 "$shown" false
      WARNINGS+=("EC2Launch v2 is installed but its service ($SERVICE_V2) is not set to start (Start ${SERVICE_START[$SERVICE_V2]:-absent}): left alone")
    else
      read_text "$root$v2" || fail CONFIG_NOT_UNDERSTOOD "$shown: $REPLY"
      edit_agent_config || fail CONFIG_NOT_UNDERSTOOD "$shown: $EDIT_ERR"
      changes=("${CHANGES[@]}")
      ((${#CHANGES[@]} == 0)) || plan_write "$v2" "$shown"
      if find_file "$root" "$P_V2_RUN_ONCE"; then
        win_path "$P_V2_RUN_ONCE"
        R_PATHS+=("$RESOLVED")
        R_SHOWN+=("$WIN_PATH")
        changes+=('removed state\.run-once')
      fi
      WARNINGS+=("$V2_WARNING")
      add_agent ec2launch-v2 "$shown" true "${changes[@]}"
    fi
  fi
  if [[ -n $v1 ]]; then
    win_path "$P_V1_CONFIG"
    shown=$WIN_PATH
    read_text "$root$v1" || fail CONFIG_NOT_UNDERSTOOD "$shown: $REPLY"
    edit_launch_config || fail CONFIG_NOT_UNDERSTOOD "$shown: $EDIT_ERR"
    if [[ $v1_scheduled == true ]]; then
      ((${#CHANGES[@]} == 0)) || plan_write "$v1" "$shown"
      add_agent ec2launch-v1 "$shown" true "${CHANGES[@]}"
    else
      WARNINGS+=("$V1_NOT_SCHEDULED_WARNING")
      add_agent ec2launch-v1 "$shown" false
    fi
  fi
  if [[ -n $ec2config ]]; then
    win_path "$P_EC2CONFIG"
    shown=$WIN_PATH
    if [[ -z ${active[ec2config]:-} ]]; then
      add_agent ec2config "$shown" false
      WARNINGS+=("EC2Config is installed but its service ($SERVICE_EC2CONFIG) is not set to start (Start ${SERVICE_START[$SERVICE_EC2CONFIG]:-absent}): left alone")
    else
      read_text "$root$ec2config" || fail CONFIG_NOT_UNDERSTOOD "$shown: $REPLY"
      edit_ec2config || fail CONFIG_NOT_UNDERSTOOD "$shown: $EDIT_ERR"
      ((${#CHANGES[@]} == 0)) || plan_write "$ec2config" "$shown"
      add_agent ec2config "$shown" true "${CHANGES[@]}"
    fi
  fi
  if ((GENERATES == 0)); then
    fail AGENT_NOT_RESETTABLE_OFFLINE 'the only launch agent is EC2Launch v1 and its initialization task is not scheduled: run InitializeInstance.ps1 -Schedule on the running instance (or use EC2Rescue for Windows Server); the volume was not changed'
  fi
}

# ---------------------------------------------------------------------------------------------------
# Volume state: refuse what Windows would not see as cleanly shut down.

# The flags of $Volume (MFT record 3), read from the raw partition: VOLUME_IS_DIRTY (0x0001) and
# VOLUME_CHKDSK_UNDERWAY (0x4000) mean chkdsk is due. ntfs-3g itself mounts such a volume read-write.
volume_flags() {
  local dev=$1 bps spc cluster mft_lcn cpr rec_size off usa_ofs usa_count i a type len value_ofs
  local -a b r
  read_bytes "$dev" 0 512
  read -r -d '' -a b <<<"$REPLY" || true
  ((${#b[@]} == 512)) || return 1
  bps=$((b[11] | b[12] << 8))
  spc=${b[13]}
  ((spc <= 128)) || spc=$((1 << (256 - spc)))
  cluster=$((bps * spc))
  mft_lcn=0
  for ((i = 7; i >= 0; i--)); do mft_lcn=$((mft_lcn << 8 | b[0x30 + i])); done
  cpr=${b[0x40]}
  if ((cpr > 127)); then rec_size=$((1 << (256 - cpr))); else rec_size=$((cpr * cluster)); fi
  ((bps >= 256 && cluster > 0 && rec_size >= 512 && rec_size <= 65536)) || return 1
  off=$((mft_lcn * cluster + 3 * rec_size))
  read_bytes "$dev" "$off" "$rec_size"
  read -r -d '' -a r <<<"$REPLY" || true
  ((${#r[@]} == rec_size)) || return 1
  [[ "${r[0]} ${r[1]} ${r[2]} ${r[3]}" == "70 73 76 69" ]] || return 1 # "FILE"
  usa_ofs=$((r[4] | r[5] << 8))
  usa_count=$((r[6] | r[7] << 8))
  # Undo the update sequence: the last two bytes of each sector are kept in the array.
  for ((i = 1; i < usa_count && i * bps <= rec_size; i++)); do
    r[i * bps - 2]=${r[usa_ofs + 2 * i]}
    r[i * bps - 1]=${r[usa_ofs + 2 * i + 1]}
  done
  a=$((r[0x14] | r[0x15] << 8))
  while ((a + 8 <= rec_size)); do
    type=$((r[a] | r[a + 1] << 8 | r[a + 2] << 16 | r[a + 3] << 24))
    ((type != 0xFFFFFFFF)) || return 1
    len=$((r[a + 4] | r[a + 5] << 8 | r[a + 6] << 16 | r[a + 7] << 24))
    ((len > 0)) || return 1
    if ((type == 0x70)); then
      ((r[a + 8] == 0)) || return 1
      value_ofs=$((r[a + 0x14] | r[a + 0x15] << 8))
      i=$((a + value_ofs + 10))
      REPLY=$((r[i] | r[i + 1] << 8))
      return 0
    fi
    a=$((a + len))
  done
  return 1
}

check_volume_state() {
  local dev=$1 flags rc=0
  if ! volume_flags "$dev"; then
    fail UNCLEAN_VOLUME "the NTFS volume flags of ${dev##*/} could not be read: cannot tell whether Windows shut it down cleanly"
  fi
  flags=$REPLY
  if ((flags & 0x4001)); then
    fail UNCLEAN_VOLUME "${dev##*/} is marked dirty (volume flags 0x$(printf '%04x' "$flags")): Windows has a disk check due; this script does not write to it"
  fi
  if command -v ntfs-3g.probe >/dev/null 2>&1; then
    ntfs-3g.probe --readwrite "$dev" >"$WORK/probe.out" 2>&1 || rc=$?
    case $rc in
      0) ;;
      14) fail HIBERNATED "Windows on ${dev##*/} is hibernated or stopped with Fast Startup (ntfs-3g.probe): writing to it would be lost or corrupt the volume when Windows resumes" ;;
      15) fail UNCLEAN_VOLUME "${dev##*/} was not shut down cleanly: its journal has changes Windows has not applied (ntfs-3g.probe)" ;;
      *) fail MOUNT_FAILED "ntfs-3g.probe --readwrite ${dev##*/} exited $rc: $(tr '\n' ' ' <"$WORK/probe.out")" ;;
    esac
  fi
}

# ---------------------------------------------------------------------------------------------------

PART=""
find_windows_partition() {
  local dev
  for dev in "${NTFS_BLOCKS[@]}"; do
    if ! ntfs_mount "$dev" "$PROBE" ro; then
      log "${dev##*/}: ntfs-3g cannot mount it read-only: $MOUNT_ERR"
      SEEN+=" (${dev##*/} not mountable)"
      continue
    fi
    if find_file "$PROBE" "$P_SYSTEM_HIVE"; then
      PART=$dev
      return 0
    fi
    unmount_last || fail UNMOUNT_FAILED "${dev##*/} could not be unmounted after a look"
  done
  if ((${#BITLOCKER[@]} > 0)); then
    fail BITLOCKER "$RA_VOLUME_ID is BitLocker-encrypted (${BITLOCKER[*]##*/}): it cannot be read offline"
  fi
  fail WINDOWS_VOLUME_NOT_FOUND "no Windows installation on $RA_VOLUME_ID (${SEEN:-no partitions}; no Windows\\System32\\config\\SYSTEM)"
}

apply_edits() {
  local i target
  for ((i = 0; i < ${#W_PATHS[@]}; i++)); do
    target=$MNT${W_PATHS[i]}
    [[ -f $target && ! -L $target ]] || fail WRITE_FAILED "${W_SHOWN[i]} is gone from the read-write mount"
    # In place: the same file (inode, security descriptor, streams), truncated and written; a new
    # file renamed over it would get a default security descriptor.
    cat -- "${W_SOURCES[i]}" >"$target" || fail WRITE_FAILED "${W_SHOWN[i]} could not be written"
    cmp -s -- "${W_SOURCES[i]}" "$target" || fail WRITE_FAILED "${W_SHOWN[i]} does not read back as written"
    log "wrote ${W_SHOWN[i]}"
  done
  for ((i = 0; i < ${#R_PATHS[@]}; i++)); do
    rm -f -- "$MNT${R_PATHS[i]}" || fail WRITE_FAILED "${R_SHOWN[i]} could not be removed"
    log "removed ${R_SHOWN[i]}"
  done
}

main() {
  # The summary goes to the saved stdout; every other command writes to stderr.
  exec 3>&1 1>&2
  trap on_exit EXIT
  trap 'ERR_LINE=$LINENO' ERR
  trap 'exit 130' INT TERM HUP
  validate_inputs
  make_workdir
  log "job $RA_JOB_ID: looking for $RA_VOLUME_ID of $RA_TARGET_INSTANCE_ID"
  find_device || fail DEVICE_NOT_FOUND "no block device for $RA_VOLUME_ID after ${RA_DEVICE_WAIT_SECONDS}s (NVMe serial ${RA_VOLUME_ID//-/} under $RA_DEV_ROOT/disk/by-id, or $RA_DEVICE_HINTS)"
  log "found $DEVICE -> $DISK"
  check_not_helper_root
  check_not_mounted
  list_blocks
  classify_blocks
  find_windows_partition
  log "Windows partition: $PART"
  plan "$PROBE"
  unmount_last || fail UNMOUNT_FAILED "${PART##*/} could not be unmounted after reading it"
  check_volume_state "$PART"

  if ((${#W_PATHS[@]} + ${#R_PATHS[@]} > 0)); then
    # From here the volume may change: it must be unmounted cleanly before anyone detaches it.
    RELEASED=false
    VOLUME_WRITTEN=true
    # norecover: ntfs-3g's default "recover" would clear a journal Windows has not applied.
    ntfs_mount "$PART" "$MNT" rw,norecover,noatime || fail MOUNT_FAILED "ntfs-3g could not mount ${PART##*/} read-write: $MOUNT_ERR"
    local opts
    mount_options "$MNT" || fail MOUNT_FAILED "${PART##*/} is not in /proc/mounts after ntfs-3g mounted it"
    opts=$REPLY
    if [[ ,$opts, != *,rw,* || $MOUNT_ERR == *"read-only"* ]]; then
      # ntfs-3g falls back to read-only (and exits 0) when Windows did not shut down cleanly.
      # Its fallback message mentions hibernation whatever the reason; "Windows is hibernated" is the hibernation one.
      if [[ $MOUNT_ERR == *"is hibernated"* ]]; then
        fail HIBERNATED "ntfs-3g mounted ${PART##*/} read-only: Windows is hibernated or stopped with Fast Startup ($MOUNT_ERR)"
      fi
      fail UNCLEAN_VOLUME "ntfs-3g mounted ${PART##*/} read-only (options $opts): ${MOUNT_ERR:-no reason given}"
    fi
    apply_edits
    sync -f "$MNT" 2>/dev/null || sync
    unmount_last || fail UNMOUNT_FAILED "the volume was updated but could not be unmounted, or its ntfs-3g process did not exit: do not detach it before it has"
    RELEASED=true
  else
    log "nothing to change: password generation is already on"
  fi

  JSON='{"ok":true'
  jfield script "$SCRIPT_NAME"
  jfield helper linux
  jfield volumeId "$RA_VOLUME_ID"
  jfield device "$DEVICE"
  jfield disk "$DISK"
  jfield partitionStyle "$PART_STYLE"
  jfield partition "$PART"
  JSON+=",\"agents\":[$AGENTS_JSON]"
  if ((${#SERVICE_START[@]} > 0)); then
    local s out=""
    for s in "${!SERVICE_START[@]}"; do
      json_str "$s"
      out+="${out:+,}$REPLY:${SERVICE_START[$s]:-null}"
    done
    JSON+=",\"serviceStart\":{$out}"
  fi
  json_arr "${W_SHOWN[@]}"
  JSON+=",\"filesChanged\":$REPLY"
  json_arr "${R_SHOWN[@]}"
  JSON+=",\"filesRemoved\":$REPLY"
  json_arr "${WARNINGS[@]}"
  JSON+=",\"warnings\":$REPLY}"
  cleanup || fail UNMOUNT_FAILED "the volume was updated but a mount of it could not be undone"
  RESULT_PRINTED=1
  printf '%s\n' "$JSON" >&3
}

# Sourced (tests of the text edits), only the functions are defined.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
