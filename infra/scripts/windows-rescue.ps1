# ec2-reset-access: the Windows rescue script. Runs on the helper through SSM Run Command
# (AWS-RunPowerShellScript) with the target's root volume attached at xvdf, and turns the target's
# administrator password generation back on for whichever launch agent the volume has.
# Online mode (RA_MODE online): runs on the running target itself instead, and makes the same edits
# to its own system drive ($env:SystemDrive\): no disk to find, bring online or put back. It does
# not reboot: the service reboots the instance through the EC2 API (RebootInstances), so that the
# reboot is visible and recorded, and waits for GetPasswordData.
#
# Inputs (set as $env:RA_* lines before this text by infra/scripts/windows-rescue.ts):
#   offline: RA_JOB_ID, RA_TARGET_INSTANCE_ID, RA_VOLUME_ID, RA_DEVICE (xvdf), RA_DEVICE_WAIT_SECONDS (120)
#   online:  RA_JOB_ID, RA_TARGET_INSTANCE_ID, RA_MODE = online
# Output: log lines on stderr ("ra: ..."), then one line of JSON on stdout:
#   {"ok":true,"script":"windows-rescue","volumeId":...,"disk":{...},"partition":N,"agents":[...],
#    "filesChanged":[...],"filesRemoved":[...],"warnings":[...]}
#   {"ok":true,"script":"windows-rescue","mode":"online","agents":[...],"filesChanged":[...],
#    "filesRemoved":[...],"warnings":[...]}
#   {"ok":false,"script":"windows-rescue","error":"CODE","message":"..."}  (exit code 1)
# It never reads, writes or prints a password. All edits are worked out before the first file is
# written, so a configuration it does not understand fails it with the volume unchanged; running it
# again after a success changes nothing more.
#
# The rules for the files are the same as infra/sim/windows-rescue-model.ts (the model the
# simulated region runs and the tests check); a rule changed here must change there. Per agent
# (AWS EC2 User Guide for Windows):
#   EC2Launch v2 ("Reset the Windows administrator password using EC2Launch v2", step 4): delete
#     %ProgramData%\Amazon\EC2Launch\state\.run-once, so that every task of frequency "once" runs
#     at the next boot, setAdminAccount among them. setAdminAccount makes a password only with
#     "password: type: random" ("EC2Launch v2 settings", task setAdminAccount: frequency once,
#     stage preReady), so config\agent-config.yml gets that too.
#   EC2Launch v1 ("Configuring a Windows instance using EC2Launch", "Configure initialization
#     tasks"): adminPasswordType Random in Config\LaunchConfig.json, then
#     InitializeInstance.ps1 -Schedule. Scheduling registers a task with the Task Scheduler of the
#     running Windows; it cannot be done to an offline volume, so v1 is reset only when its task
#     (Windows\System32\Tasks\Amazon Ec2 Launch - Instance Initialization) is still scheduled and
#     enabled. Otherwise the agent is reported as not resettable offline. Online, the script runs
#     the documented C:\ProgramData\Amazon\EC2-Windows\Launch\Scripts\InitializeInstance.ps1
#     -Schedule itself (same page, step 3: it registers a Windows Scheduled Task that "runs one time
#     during the next boot and then disables these tasks from running again"). That script also
#     sets the AmazonSSMAgent service to start Disabled until the initialization has run at the next
#     boot, which sets it back to Automatic (InitializeInstance.ps1 of EC2Launch v1).
#   EC2Config ("Reset the Windows administrator password using EC2Config", step 4): plugin
#     Ec2SetPassword -> Enabled in %ProgramFiles%\Amazon\Ec2ConfigService\Settings\config.xml.
#     Online the same edit to the live file ("Configuring a Windows instance using the EC2Config
#     service": "EC2Config runs initial startup tasks when the instance is first started and then
#     disables them. To run these tasks again, you must explicitly enable them prior to shutting
#     down the instance"; its settings files may be edited directly).
#
# The disk: found by its EBS volume id (Nitro: the NVMe serial number "vol0123..." without the
# dash, Get-Disk SerialNumber/AdapterSerialNumber, "Amazon EBS and NVMe on Windows"; Xen/AWS PV:
# the SCSI target id of the device name, xvdf = target 5, "Mapping disks to volumes on your Windows
# instance"). A volume made from the same AMI as the helper's own disk has the same disk signature
# (MBR) or disk GUID (GPT); Windows keeps such a disk offline (VDS offline reason "Collision",
# value 4). It is then given a new identifier to come online, and the original is put back after
# it has been taken offline again: Windows boot configuration refers to the disk by that
# identifier, and a disk that keeps the new one does not boot (EC2Rescue for Windows Server fixes
# the signature after an offline action likewise, see its /no-fix-signature option).

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# Windows PowerShell 5.1 serialises arrays held in properties as {"value":[...],"Count":n} while
# this type data is loaded.
Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue

$ScriptName = 'windows-rescue'
$JobId = [string]$env:RA_JOB_ID
$TargetInstanceId = [string]$env:RA_TARGET_INSTANCE_ID
$VolumeId = [string]$env:RA_VOLUME_ID
$Device = if ($env:RA_DEVICE) { [string]$env:RA_DEVICE } else { 'xvdf' }
$DeviceWaitSeconds = 120
$Mode = if ($env:RA_MODE) { [string]$env:RA_MODE } else { 'offline' }
$Online = ($Mode -ceq 'online')

$Script:DiskNumber = $null
$Script:PartitionStyle = ''
$Script:OriginalId = $null
$Script:SignatureCollision = $false
$Script:SignatureChanged = $false
$Script:SignatureRestored = $false
$Script:AddedAccessPaths = New-Object 'System.Collections.Generic.List[object]'
$Script:MountBase = $null

# ------------------------------------------------------------------------------------------------
# Output

function Write-RaLog {
  param([string]$Message)
  [Console]::Error.WriteLine("ra: $Message")
}

function Write-RaSummary {
  param($Summary)
  [Console]::Out.WriteLine(($Summary | ConvertTo-Json -Compress -Depth 8))
}

function Stop-Rescue {
  param([string]$Code, [string]$Message)
  # Online there is no disk of the script's to put back: it works on the running system's own drive.
  if (-not $Online) {
    $problem = Restore-Disk
    if ($problem) {
      if ($Script:SignatureChanged -and -not $Script:SignatureRestored) { $Code = 'SIGNATURE_RESTORE_FAILED' }
      $Message = "$Message; then: $problem"
    }
  }
  Write-RaLog "error ${Code}: $Message"
  Write-RaSummary ([ordered]@{ ok = $false; script = $ScriptName; error = $Code; message = $Message })
  exit 1
}

# ------------------------------------------------------------------------------------------------
# The disk

function ConvertTo-XenDeviceName {
  param([int]$TargetId)
  # The AWS PV driver's SCSI target ids: 0 is /dev/sda1, 1 xvdb ... 25 xvdz, then xvdaa...
  if ($TargetId -eq 0) { return 'sda1' }
  $name = 'xvd'
  if ($TargetId -gt 25) { $name += [char](0x60 + [int][math]::Floor($TargetId / 26)) }
  return $name + [char](0x61 + $TargetId % 26)
}

function Find-RescueDisk {
  $serial = $VolumeId.Replace('-', '')
  $found = New-Object 'System.Collections.Generic.List[object]'
  foreach ($disk in @(Get-Disk)) {
    $serials = @([string]$disk.SerialNumber, [string]$disk.AdapterSerialNumber) | ForEach-Object { ($_.Trim() -split '_')[0] }
    if (@($serials | Where-Object { $_ -ceq $serial }).Count -gt 0) { $found.Add($disk); continue }
    if ([string]$disk.Path -like '*PROD_PVDISK*') {
      $drive = Get-CimInstance -ClassName Win32_DiskDrive -Filter "Index = $($disk.Number)"
      if ($drive -and (ConvertTo-XenDeviceName ([int]$drive.SCSITargetId)) -ceq $Device) { $found.Add($disk) }
    }
  }
  return , $found
}

function Get-DiskIdentifier {
  param($Disk)
  if ([string]$Disk.PartitionStyle -eq 'GPT') { return ([string]$Disk.Guid).Trim('{', '}').ToLowerInvariant() }
  if ($null -eq $Disk.Signature) { return $null }
  return ('{0:x8}' -f [uint32]$Disk.Signature)
}

function Test-SignatureCollision {
  param($Disk)
  $reason = [string]$Disk.OfflineReason
  return ($reason -eq '4' -or $reason -match 'Collision')
}

function Invoke-Diskpart {
  param([string[]]$Commands)
  $file = Join-Path $env:TEMP "ra-diskpart-$JobId.txt"
  Set-Content -LiteralPath $file -Value $Commands -Encoding Ascii
  # Windows PowerShell turns a native command's stderr lines into errors, which 'Stop' would throw.
  $ErrorActionPreference = 'Continue'
  try {
    $out = & "$env:SystemRoot\System32\diskpart.exe" /s $file 2>&1 | Out-String
    if ($LASTEXITCODE -ne 0) {
      $last = @($out -split '\r?\n' | Where-Object { $_.Trim() -ne '' }) | Select-Object -Last 2
      throw "diskpart exited $LASTEXITCODE ($($last -join ' '))"
    }
  } finally {
    Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
  }
}

function New-DiskIdentifier {
  if ($Script:PartitionStyle -eq 'GPT') { return [guid]::NewGuid().ToString() }
  do { $id = '{0:x8}' -f (Get-Random -Minimum 1 -Maximum ([int]::MaxValue)) } while ($id -eq $Script:OriginalId)
  return $id
}

function Mount-RescueDisk {
  $disk = Get-Disk -Number $Script:DiskNumber
  if ($disk.IsOffline) {
    $Script:SignatureCollision = Test-SignatureCollision $disk
    if (-not $Script:SignatureCollision) {
      try {
        Set-Disk -Number $Script:DiskNumber -IsOffline $false
      } catch {
        if ($_.Exception.Message -notmatch 'collision') { Stop-Rescue 'DISK_ONLINE_FAILED' "disk $($Script:DiskNumber) could not be brought online: $($_.Exception.Message)" }
        $Script:SignatureCollision = $true
      }
    }
    if ($Script:SignatureCollision) {
      # Only when needed: a new identifier for the offline disk, then online (the original goes back in Restore-Disk).
      $new = New-DiskIdentifier
      Write-RaLog "disk $($Script:DiskNumber) collides with a disk of this helper (same $($Script:PartitionStyle) identifier $($Script:OriginalId)): giving it $new until it goes offline again"
      $Script:SignatureChanged = $true
      try {
        Invoke-Diskpart @("select disk $($Script:DiskNumber)", "uniqueid disk id=$new", 'online disk noerr')
      } catch {
        Stop-Rescue 'DISK_ONLINE_FAILED' "disk $($Script:DiskNumber) has a signature collision and could not be given a new identifier: $($_.Exception.Message)"
      }
    }
    Update-HostStorageCache -ErrorAction SilentlyContinue
    $disk = Get-Disk -Number $Script:DiskNumber
    if ($disk.IsOffline) { Stop-Rescue 'DISK_ONLINE_FAILED' "disk $($Script:DiskNumber) is still offline ($([string]$disk.OfflineReason))" }
  }
  # Windows may also have given the disk a new identifier by itself when it came online.
  if ((Get-DiskIdentifier $disk) -ne $Script:OriginalId) { $Script:SignatureChanged = $true }
  if ($disk.IsReadOnly) {
    try { Set-Disk -Number $Script:DiskNumber -IsReadOnly $false } catch { Stop-Rescue 'DISK_ONLINE_FAILED' "disk $($Script:DiskNumber) stays read-only: $($_.Exception.Message)" }
  }
}

# Undoes what the script did to the disk, in reverse: access paths, online state, identifier.
# Answers what could not be undone ('' when everything was).
function Restore-Disk {
  $problems = New-Object 'System.Collections.Generic.List[string]'
  for ($i = $Script:AddedAccessPaths.Count - 1; $i -ge 0; $i--) {
    $added = $Script:AddedAccessPaths[$i]
    try {
      Remove-PartitionAccessPath -DiskNumber $added.Disk -PartitionNumber $added.Partition -AccessPath $added.Path
      # Never recursive: a folder that is still a mount point keeps the customer's files behind it.
      [IO.Directory]::Delete($added.Directory, $false)
    } catch {
      $problems.Add("access path $($added.Path) could not be removed: $($_.Exception.Message)")
    }
  }
  $Script:AddedAccessPaths.Clear()
  if ($Script:MountBase -and (Test-Path -LiteralPath $Script:MountBase)) {
    try { [IO.Directory]::Delete($Script:MountBase, $false) } catch { $problems.Add("folder $($Script:MountBase) could not be removed") }
  }
  if ($null -ne $Script:DiskNumber) {
    try {
      Set-Disk -Number $Script:DiskNumber -IsOffline $true
    } catch {
      $problems.Add("disk $($Script:DiskNumber) could not be taken offline: $($_.Exception.Message)")
    }
    if ($Script:SignatureChanged -and -not $Script:SignatureRestored) {
      try {
        # On the offline disk, so that two online disks never share the identifier.
        Invoke-Diskpart @("select disk $($Script:DiskNumber)", "uniqueid disk id=$($Script:OriginalId)")
        Update-HostStorageCache -ErrorAction SilentlyContinue
        if ((Get-DiskIdentifier (Get-Disk -Number $Script:DiskNumber)) -ne $Script:OriginalId) { throw 'the identifier did not change back' }
        $Script:SignatureRestored = $true
        Write-RaLog "disk $($Script:DiskNumber): original identifier $($Script:OriginalId) restored"
      } catch {
        $problems.Add("the disk's original identifier $($Script:OriginalId) could not be restored ($($_.Exception.Message)); the instance may not boot until it is: diskpart 'uniqueid disk id=$($Script:OriginalId)' on a helper, or restore from the backup image")
      }
    }
    $Script:DiskNumber = $null
  }
  return ($problems -join '; ')
}

function Find-WindowsPartition {
  $Script:MountBase = Join-Path $env:SystemDrive "ra-rescue-$JobId"
  $seen = New-Object 'System.Collections.Generic.List[string]'
  foreach ($partition in @(Get-Partition -DiskNumber $Script:DiskNumber)) {
    $number = [int]$partition.PartitionNumber
    $roots = @($partition.AccessPaths | Where-Object { $_ -and $_ -notlike '\\?\Volume*' })
    if ($roots.Count -eq 0) {
      $dir = Join-Path $Script:MountBase "p$number"
      try {
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
        Add-PartitionAccessPath -DiskNumber $Script:DiskNumber -PartitionNumber $number -AccessPath "$dir\"
        $Script:AddedAccessPaths.Add([pscustomobject]@{ Disk = $Script:DiskNumber; Partition = $number; Path = "$dir\"; Directory = $dir })
        $roots = @("$dir\")
      } catch {
        $seen.Add("partition ${number}: not mountable ($($_.Exception.Message))")
        try { [IO.Directory]::Delete($dir, $false) } catch { Write-RaLog "could not remove the empty folder $dir" }
        continue
      }
    }
    foreach ($root in $roots) {
      if (Test-Path -LiteralPath (Join-Path $root 'Windows\System32\config\SYSTEM') -PathType Leaf) {
        return [pscustomobject]@{ Number = $number; Root = $root }
      }
    }
    $fs = 'unknown'
    try { $fs = [string](Get-Volume -Partition $partition).FileSystemType } catch { Write-RaLog "partition ${number}: no volume information" }
    $seen.Add("partition ${number}: $fs, no Windows\System32\config\SYSTEM")
  }
  Stop-Rescue 'WINDOWS_VOLUME_NOT_FOUND' "no Windows installation on $VolumeId ($($seen -join '; ')); a BitLocker-encrypted volume cannot be read offline"
}

# ------------------------------------------------------------------------------------------------
# Files (read and written in the encoding they have)

function Get-RaEncoding {
  param([byte[]]$Bytes)
  if ($Bytes.Length -ge 3 -and $Bytes[0] -eq 0xEF -and $Bytes[1] -eq 0xBB -and $Bytes[2] -eq 0xBF) { return New-Object System.Text.UTF8Encoding($true) }
  if ($Bytes.Length -ge 2 -and $Bytes[0] -eq 0xFF -and $Bytes[1] -eq 0xFE) { return New-Object System.Text.UnicodeEncoding($false, $true) }
  if ($Bytes.Length -ge 2 -and $Bytes[0] -eq 0xFE -and $Bytes[1] -eq 0xFF) { return New-Object System.Text.UnicodeEncoding($true, $true) }
  return New-Object System.Text.UTF8Encoding($false)
}

function Read-RaFile {
  param([string]$Path)
  if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
  $encoding = Get-RaEncoding ([IO.File]::ReadAllBytes($Path))
  return [pscustomobject]@{ Path = $Path; Text = [IO.File]::ReadAllText($Path, $encoding); Encoding = $encoding }
}

# ------------------------------------------------------------------------------------------------
# EC2Launch v2: agent-config.yml. The line rules of ensureRandomAdminPasswordYaml (model).

function Get-Indent { param([string]$Line) return $Line.Length - $Line.TrimStart().Length }
function Test-Content { param([string]$Line) $t = $Line.Trim(); return ($t -ne '' -and -not $t.StartsWith('#')) }
function Get-Spaces { param([int]$Count) return ' ' * $Count }
function Get-BareValue { param([string]$Value) return ((($Value -replace '\s+#.*$', '').Trim()) -replace '^([''"])(.*)\1$', '$2') }

function Get-BlockEnd {
  param($Lines, [int]$Start, [int]$Indent, [int]$Limit = -1)
  if ($Limit -lt 0) { $Limit = $Lines.Count }
  for ($j = $Start + 1; $j -lt $Limit; $j++) { if ((Test-Content $Lines[$j]) -and (Get-Indent $Lines[$j]) -le $Indent) { return $j } }
  return $Limit
}

function Get-SequenceEnd {
  param($Lines, [int]$Start, [int]$Indent, [int]$Limit = -1)
  if ($Limit -lt 0) { $Limit = $Lines.Count }
  for ($j = $Start + 1; $j -lt $Limit; $j++) {
    if (-not (Test-Content $Lines[$j])) { continue }
    $i = Get-Indent $Lines[$j]
    if ($i -lt $Indent -or ($i -eq $Indent -and -not $Lines[$j].TrimStart().StartsWith('-'))) { return $j }
  }
  return $Limit
}

function Get-AppendPoint {
  param($Lines, [int]$Start, [int]$End)
  for ($j = $End - 1; $j -gt $Start; $j--) { if (Test-Content $Lines[$j]) { return $j + 1 } }
  return $Start + 1
}

function Find-Key {
  param($Lines, [int]$Start, [int]$End, [int]$Indent, [string]$Pattern)
  for ($j = $Start + 1; $j -lt $End; $j++) {
    if ((Test-Content $Lines[$j]) -and (Get-Indent $Lines[$j]) -eq $Indent -and $Lines[$j] -cmatch $Pattern) { return $j }
  }
  return -1
}

function Get-ChildIndent {
  param($Lines, [int]$Start, [int]$End, [int]$Fallback)
  for ($j = $Start + 1; $j -lt $End; $j++) { if (Test-Content $Lines[$j]) { return (Get-Indent $Lines[$j]) } }
  return $Fallback
}

function Get-RandomTaskLines {
  param([int]$Indent)
  return [string[]]@(
    (Get-Spaces $Indent) + '- task: setAdminAccount',
    (Get-Spaces ($Indent + 2)) + 'inputs:',
    (Get-Spaces ($Indent + 4)) + 'password:',
    (Get-Spaces ($Indent + 6)) + 'type: random'
  )
}

function Update-AgentConfigYaml {
  param([string]$Text)
  $newline = if ($Text.Contains("`r`n")) { "`r`n" } else { "`n" }
  $lines = New-Object 'System.Collections.Generic.List[string]'
  foreach ($line in ($Text -split '\r?\n')) { $lines.Add($line) }
  $changes = New-Object 'System.Collections.Generic.List[string]'
  $taskPattern = '^(\s*)-\s+task:\s*([''"]?)setAdminAccount\2\s*(#.*)?$'
  $tasks = @(for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -cmatch $taskPattern) { $i } })
  $mentions = @($lines | Where-Object { ($_ -replace '#.*$', '') -cmatch 'setAdminAccount' }).Count
  if ($mentions -ne $tasks.Count) { return @{ Error = 'setAdminAccount appears in a form other than "- task: setAdminAccount"' } }

  # From the last task up, so that inserted lines do not move the ones still to do.
  for ($n = $tasks.Count - 1; $n -ge 0; $n--) {
    $t = $tasks[$n]
    $taskChanges = New-Object 'System.Collections.Generic.List[string]'
    $d = Get-Indent $lines[$t]
    $k = $lines[$t].IndexOf('task:', [StringComparison]::Ordinal)
    $end = Get-BlockEnd $lines $t $d
    $inputs = Find-Key $lines $t $end $k '^\s*inputs:'
    if ($inputs -lt 0) {
      $lines.InsertRange((Get-AppendPoint $lines $t $end), [string[]]@(((Get-Spaces $k) + 'inputs:'), ((Get-Spaces ($k + 2)) + 'password:'), ((Get-Spaces ($k + 4)) + 'type: random')))
      $taskChanges.Add('setAdminAccount: added password type random')
    } elseif ($lines[$inputs] -cnotmatch '^\s*inputs:\s*(#.*)?$') {
      return @{ Error = 'setAdminAccount inputs are not a block mapping' }
    } else {
      $inputsEnd = Get-BlockEnd $lines $inputs $k $end
      $ci = Get-ChildIndent $lines $inputs $inputsEnd ($k + 2)
      $password = Find-Key $lines $inputs $inputsEnd $ci '^\s*password:'
      if ($password -lt 0) {
        $lines.InsertRange((Get-AppendPoint $lines $inputs $inputsEnd), [string[]]@(((Get-Spaces $ci) + 'password:'), ((Get-Spaces ($ci + 2)) + 'type: random')))
        $taskChanges.Add('setAdminAccount: added password type random')
      } elseif ($lines[$password] -cnotmatch '^\s*password:\s*(#.*)?$') {
        return @{ Error = 'setAdminAccount password is not a block mapping' }
      } else {
        $passwordEnd = Get-BlockEnd $lines $password $ci $inputsEnd
        $pc = Get-ChildIndent $lines $password $passwordEnd ($ci + 2)
        # A static password's data (and the lines of a multi-line value) goes: it is a password in clear text.
        $removedData = $false
        while (($data = Find-Key $lines $password $passwordEnd $pc '^\s*data:') -ge 0) {
          $dataEnd = Get-BlockEnd $lines $data $pc $passwordEnd
          $lines.RemoveRange($data, $dataEnd - $data)
          $passwordEnd -= ($dataEnd - $data)
          $removedData = $true
        }
        $type = Find-Key $lines $password $passwordEnd $pc '^\s*type:'
        if ($type -lt 0) {
          $lines.Insert($password + 1, (Get-Spaces $pc) + 'type: random')
          $taskChanges.Add('setAdminAccount: added password type random')
        } else {
          $current = Get-BareValue ($lines[$type] -replace '^\s*type:', '')
          if ($current.ToLowerInvariant() -ne 'random') {
            $lines[$type] = (Get-Spaces $pc) + 'type: random'
            $shown = if ($current) { $current } else { '(empty)' }
            $taskChanges.Add("setAdminAccount: password type $shown -> random")
          }
        }
        if ($removedData) { $taskChanges.Add('setAdminAccount: removed the static password data') }
      }
    }
    $changes.InsertRange(0, $taskChanges)
  }
  if ($tasks.Count -gt 0) { return @{ Text = ($lines -join $newline); Changes = @($changes) } }

  $stage = -1
  for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -cmatch '^(\s*)-\s+stage:\s*([''"]?)preReady\2\s*(#.*)?$') { $stage = $i; break } }
  if ($stage -ge 0) {
    $sd = Get-Indent $lines[$stage]
    $sk = $lines[$stage].IndexOf('stage:', [StringComparison]::Ordinal)
    $end = Get-BlockEnd $lines $stage $sd
    $tasksKey = Find-Key $lines $stage $end $sk '^\s*tasks:'
    if ($tasksKey -lt 0) {
      $lines.InsertRange((Get-AppendPoint $lines $stage $end), [string[]](@((Get-Spaces $sk) + 'tasks:') + (Get-RandomTaskLines $sk)))
    } else {
      if ($lines[$tasksKey] -cmatch '^\s*tasks:\s*\[\s*\]\s*(#.*)?$') { $lines[$tasksKey] = (Get-Spaces $sk) + 'tasks:' }
      elseif ($lines[$tasksKey] -cnotmatch '^\s*tasks:\s*(#.*)?$') { return @{ Error = 'the preReady tasks are not a block sequence' } }
      $seqEnd = Get-SequenceEnd $lines $tasksKey $sk $end
      $ti = $sk
      for ($j = $tasksKey + 1; $j -lt $seqEnd; $j++) { if ((Test-Content $lines[$j]) -and $lines[$j].TrimStart().StartsWith('-')) { $ti = Get-Indent $lines[$j]; break } }
      $lines.InsertRange((Get-AppendPoint $lines $tasksKey $seqEnd), [string[]](Get-RandomTaskLines $ti))
    }
    return @{ Text = ($lines -join $newline); Changes = @('setAdminAccount: added to the preReady stage with password type random') }
  }

  $config = -1
  for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -cmatch '^config:\s*(#.*)?$') { $config = $i; break } }
  if ($config -lt 0) { return @{ Error = 'no top-level "config:" sequence of stages' } }
  $end = Get-SequenceEnd $lines $config 0
  $si = 0
  for ($j = $config + 1; $j -lt $end; $j++) { if ($lines[$j] -cmatch '^\s*-\s+stage:') { $si = Get-Indent $lines[$j]; break } }
  $lines.InsertRange((Get-AppendPoint $lines $config $end), [string[]](@(((Get-Spaces $si) + '- stage: preReady'), ((Get-Spaces ($si + 2)) + 'tasks:')) + (Get-RandomTaskLines ($si + 2))))
  return @{ Text = ($lines -join $newline); Changes = @('setAdminAccount: added a preReady stage with password type random') }
}

# agent-config.yml written as JSON (ec2launch get-agent-config -f json): ensureRandomAdminPasswordJson (model).
function Update-AgentConfigJson {
  param([string]$Text)
  try { $doc = $Text | ConvertFrom-Json } catch { return @{ Error = "not valid JSON ($($_.Exception.Message))" } }
  if ($null -eq $doc -or -not ($doc.PSObject.Properties.Name -ccontains 'config') -or -not ($doc.config -is [array])) { return @{ Error = 'no "config" array of stages' } }
  $changes = New-Object 'System.Collections.Generic.List[string]'
  $found = @()
  foreach ($stage in @($doc.config)) {
    if ($null -eq $stage -or -not ($stage.PSObject.Properties.Name -ccontains 'tasks')) { continue }
    foreach ($task in @($stage.tasks)) { if ($task -and ($task.PSObject.Properties.Name -ccontains 'task') -and $task.task -ceq 'setAdminAccount') { $found += $task } }
  }
  foreach ($task in $found) {
    if (-not ($task.PSObject.Properties.Name -ccontains 'inputs') -or $null -eq $task.inputs) { $task | Add-Member -Force -NotePropertyName inputs -NotePropertyValue ([pscustomobject]@{}) }
    if (-not ($task.inputs -is [System.Management.Automation.PSCustomObject])) { return @{ Error = 'setAdminAccount inputs are not an object' } }
    if (-not ($task.inputs.PSObject.Properties.Name -ccontains 'password') -or $null -eq $task.inputs.password) { $task.inputs | Add-Member -Force -NotePropertyName password -NotePropertyValue ([pscustomobject]@{}) }
    $password = $task.inputs.password
    if (-not ($password -is [System.Management.Automation.PSCustomObject])) { return @{ Error = 'setAdminAccount password is not an object' } }
    if ($password.PSObject.Properties.Name -ccontains 'data') {
      $password.PSObject.Properties.Remove('data')
      $changes.Add('setAdminAccount: removed the static password data')
    }
    $current = if (($password.PSObject.Properties.Name -ccontains 'type') -and $password.type -is [string]) { $password.type } else { '' }
    if ($current.ToLowerInvariant() -ne 'random') {
      $password | Add-Member -Force -NotePropertyName type -NotePropertyValue 'random'
      $changes.Add($(if ($current) { "setAdminAccount: password type $current -> random" } else { 'setAdminAccount: added password type random' }))
    }
  }
  if ($found.Count -eq 0) {
    $task = [pscustomobject]@{ task = 'setAdminAccount'; inputs = [pscustomobject]@{ password = [pscustomobject]@{ type = 'random' } } }
    $stage = @($doc.config | Where-Object { $_ -and ($_.PSObject.Properties.Name -ccontains 'stage') -and $_.stage -ceq 'preReady' }) | Select-Object -First 1
    if ($stage) {
      if (($stage.PSObject.Properties.Name -ccontains 'tasks') -and $null -ne $stage.tasks -and -not ($stage.tasks -is [array])) { return @{ Error = 'the preReady tasks are not an array' } }
      $existing = if ($stage.PSObject.Properties.Name -ccontains 'tasks') { @($stage.tasks) } else { @() }
      $stage | Add-Member -Force -NotePropertyName tasks -NotePropertyValue ([object[]]($existing + $task))
      $changes.Add('setAdminAccount: added to the preReady stage with password type random')
    } else {
      $doc.config = [object[]](@($doc.config) + [pscustomobject]@{ stage = 'preReady'; tasks = [object[]]@($task) })
      $changes.Add('setAdminAccount: added a preReady stage with password type random')
    }
  }
  $text = if ($changes.Count -gt 0) { $doc | ConvertTo-Json -Depth 20 } else { $Text }
  return @{ Text = $text; Changes = @($changes) }
}

function Update-AgentConfig {
  param([string]$Text)
  if ($Text.TrimStart().StartsWith('{')) { return Update-AgentConfigJson $Text }
  return Update-AgentConfigYaml $Text
}

# ------------------------------------------------------------------------------------------------
# EC2Launch v1 and EC2Config: ensureRandomLaunchConfig, taskEnabled, ensureEc2SetPasswordEnabled (model).

function Update-LaunchConfig {
  param([string]$Text)
  try { $doc = $Text | ConvertFrom-Json } catch { return @{ Error = "not valid JSON ($($_.Exception.Message))" } }
  if (-not ($doc -is [System.Management.Automation.PSCustomObject])) { return @{ Error = 'not a JSON object' } }
  # -eq compares names case-insensitively, as EC2Launch's own PowerShell reads the file.
  $property = @($doc.PSObject.Properties | Where-Object { $_.Name -eq 'adminPasswordType' }) | Select-Object -First 1
  $current = if ($property -and $property.Value -is [string]) { [string]$property.Value } else { '' }
  if ($current -ceq 'Random') { return @{ Text = $Text; Changes = @() } }
  if ($property) { $property.Value = 'Random' } else { $doc | Add-Member -NotePropertyName adminPasswordType -NotePropertyValue 'Random' }
  $shown = if ($current) { $current } else { '(absent)' }
  return @{ Text = ($doc | ConvertTo-Json -Depth 20); Changes = @("adminPasswordType $shown -> Random") }
}

function Test-TaskEnabled {
  param([string]$TaskXml)
  if ($null -eq $TaskXml) { return $false }
  $settings = [regex]::Match($TaskXml, '(?i)<Settings\b[^>]*>([\s\S]*?)</Settings>')
  $inner = if ($settings.Success) { $settings.Groups[1].Value } else { '' }
  return -not ($inner -match '(?i)<Enabled>\s*false\s*</Enabled>')
}

function Update-Ec2ConfigXml {
  param([string]$Text)
  $xml = New-Object System.Xml.XmlDocument
  $xml.PreserveWhitespace = $true
  try { $xml.LoadXml($Text) } catch { return @{ Error = "not valid XML ($($_.Exception.Message))" } }
  $plugins = $xml.SelectSingleNode('/Ec2ConfigurationSettings/Plugins')
  if ($null -eq $plugins) { return @{ Error = 'no <Plugins> element' } }
  $plugin = @($plugins.SelectNodes('Plugin') | Where-Object { $_.SelectSingleNode('Name') -and $_.SelectSingleNode('Name').InnerText.Trim() -ceq 'Ec2SetPassword' }) | Select-Object -First 1
  if ($plugin) {
    $state = $plugin.SelectSingleNode('State')
    $current = if ($state) { $state.InnerText.Trim() } else { '' }
    if ($current -ceq 'Enabled') { return @{ Text = $Text; Changes = @() } }
    if ($null -eq $state) { $state = $plugin.AppendChild($xml.CreateElement('State')) }
    $state.InnerText = 'Enabled'
    $shown = if ($current) { $current } else { '(no state)' }
    $change = "Ec2SetPassword $shown -> Enabled"
  } else {
    $plugin = $xml.CreateElement('Plugin')
    $name = $xml.CreateElement('Name'); $name.InnerText = 'Ec2SetPassword'
    $state = $xml.CreateElement('State'); $state.InnerText = 'Enabled'
    [void]$plugin.AppendChild($name); [void]$plugin.AppendChild($state)
    [void]$plugins.AppendChild($plugin)
    $change = 'Ec2SetPassword added, Enabled'
  }
  return @{ Text = $xml.OuterXml; Changes = @($change) }
}

# EC2Launch v1, online: schedules its initialization as its documentation says (see the top). In a
# PowerShell of its own, so that what it logs to the console (it logs with -AllowLogToConsole)
# comes back here as output and goes to the log, never onto this script's stdout, and its Exit ends
# only that process. Answers what went wrong ('' when the task is scheduled and enabled).
function Register-InitializationTask {
  param([string]$ScriptPath, [string]$TaskPath)
  $powershell = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
  # Windows PowerShell turns a native command's stderr lines into errors, which 'Stop' would throw.
  $ErrorActionPreference = 'Continue'
  $out = & $powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File $ScriptPath -Schedule 2>&1 | Out-String
  $exitCode = $LASTEXITCODE
  $ErrorActionPreference = 'Stop'
  foreach ($line in @($out -split '\r?\n' | Where-Object { $_.Trim() -ne '' })) { Write-RaLog "InitializeInstance.ps1: $line" }
  if ($exitCode -ne 0) { return "InitializeInstance.ps1 -Schedule exited $exitCode" }
  $task = Read-RaFile $TaskPath
  if (-not (Test-TaskEnabled $(if ($task) { $task.Text } else { $null }))) { return "InitializeInstance.ps1 -Schedule exited 0, but its task $TaskPath is not there and enabled" }
  return ''
}

# ------------------------------------------------------------------------------------------------
# The reset: applyWindowsPasswordReset (model; online: its { online: true })

function Invoke-PasswordReset {
  param([string]$Root)
  $paths = @{
    V2Config    = Join-Path $Root 'ProgramData\Amazon\EC2Launch\config\agent-config.yml'
    V2RunOnce   = Join-Path $Root 'ProgramData\Amazon\EC2Launch\state\.run-once'
    V1Config    = Join-Path $Root 'ProgramData\Amazon\EC2-Windows\Launch\Config\LaunchConfig.json'
    V1Script    = Join-Path $Root 'ProgramData\Amazon\EC2-Windows\Launch\Scripts\InitializeInstance.ps1'
    V1Task      = Join-Path $Root 'Windows\System32\Tasks\Amazon Ec2 Launch - Instance Initialization'
    Ec2Config   = Join-Path $Root 'Program Files\Amazon\Ec2ConfigService\Settings\config.xml'
  }
  # Summaries name files as the instance sees them (offline the volume is the target's C:).
  $drive = if ($Online) { $Root.TrimEnd('\') + '\' } else { 'C:\' }
  $shown = { param([string]$Path) $drive + $Path.Substring($Root.TrimEnd('\').Length + 1) }
  $writes = New-Object 'System.Collections.Generic.List[object]'
  $removes = New-Object 'System.Collections.Generic.List[string]'
  $agents = New-Object 'System.Collections.Generic.List[object]'
  $warnings = New-Object 'System.Collections.Generic.List[string]'

  $v2 = Read-RaFile $paths.V2Config
  $v1 = Read-RaFile $paths.V1Config
  $ec2config = Read-RaFile $paths.Ec2Config
  if (-not $v2 -and -not $v1 -and -not $ec2config) {
    Stop-Rescue 'NO_LAUNCH_AGENT' "no launch agent configuration on the volume (looked for $((& $shown $paths.V2Config)), $((& $shown $paths.V1Config)), $((& $shown $paths.Ec2Config)))"
  }
  if ($v2) {
    $edit = Update-AgentConfig $v2.Text
    if ($edit.ContainsKey('Error')) { Stop-Rescue 'CONFIG_NOT_UNDERSTOOD' "$(& $shown $paths.V2Config): $($edit.Error)" }
    $changes = New-Object 'System.Collections.Generic.List[string]'
    foreach ($c in $edit.Changes) { $changes.Add($c) }
    if ($edit.Changes.Count -gt 0) { $writes.Add([pscustomobject]@{ Path = $paths.V2Config; Text = $edit.Text; Encoding = $v2.Encoding }) }
    if (Test-Path -LiteralPath $paths.V2RunOnce) {
      $removes.Add($paths.V2RunOnce)
      $changes.Add('removed state\.run-once')
    }
    $warnings.Add('EC2Launch v2 runs every task of frequency "once" again at the next boot (setAdminAccount among them, and any once-scripts of yours)')
    $agents.Add([ordered]@{ agent = 'ec2launch-v2'; config = (& $shown $paths.V2Config); generatesPassword = $true; changes = @($changes) })
  }
  $scheduleV1 = $false
  if ($v1) {
    $edit = Update-LaunchConfig $v1.Text
    if ($edit.ContainsKey('Error')) { Stop-Rescue 'CONFIG_NOT_UNDERSTOOD' "$(& $shown $paths.V1Config): $($edit.Error)" }
    $task = Read-RaFile $paths.V1Task
    $scheduled = Test-TaskEnabled $(if ($task) { $task.Text } else { $null })
    # Online an unscheduled initialization can be scheduled (after the file edits, below).
    $schedulable = (-not $scheduled) -and $Online -and (Test-Path -LiteralPath $paths.V1Script -PathType Leaf)
    $resets = $scheduled -or $schedulable
    if ($resets -and $edit.Changes.Count -gt 0) { $writes.Add([pscustomobject]@{ Path = $paths.V1Config; Text = $edit.Text; Encoding = $v1.Encoding }) }
    $changes = New-Object 'System.Collections.Generic.List[string]'
    if ($resets) { foreach ($c in $edit.Changes) { $changes.Add($c) } }
    if ($schedulable) {
      $scheduleV1 = $true
      $changes.Add('InitializeInstance.ps1 -Schedule: initialization task scheduled for the next boot')
      $warnings.Add('EC2Launch v1 runs its whole initialization again at the next boot (and InitializeInstance.ps1 -Schedule keeps the SSM agent from starting until that initialization has run)')
    } elseif (-not $scheduled) {
      if ($Online) {
        $warnings.Add("EC2Launch v1 cannot be scheduled: $(& $shown $paths.V1Script) is missing; its configuration was left alone")
      } else {
        $warnings.Add('EC2Launch v1 initialises only when InitializeInstance.ps1 -Schedule has registered its task, which cannot be done on an offline volume; its configuration was left alone')
      }
    }
    $agents.Add([ordered]@{ agent = 'ec2launch-v1'; config = (& $shown $paths.V1Config); generatesPassword = [bool]$resets; changes = @($changes) })
  }
  if ($ec2config) {
    $edit = Update-Ec2ConfigXml $ec2config.Text
    if ($edit.ContainsKey('Error')) { Stop-Rescue 'CONFIG_NOT_UNDERSTOOD' "$(& $shown $paths.Ec2Config): $($edit.Error)" }
    if ($edit.Changes.Count -gt 0) { $writes.Add([pscustomobject]@{ Path = $paths.Ec2Config; Text = $edit.Text; Encoding = $ec2config.Encoding }) }
    $agents.Add([ordered]@{ agent = 'ec2config'; config = (& $shown $paths.Ec2Config); generatesPassword = $true; changes = @($edit.Changes) })
  }
  if (@($agents | Where-Object { $_.generatesPassword }).Count -eq 0) {
    if ($Online) {
      Stop-Rescue 'AGENT_SCHEDULE_FAILED' "the only launch agent is EC2Launch v1, its initialization task is not scheduled and $(& $shown $paths.V1Script) is missing to schedule it; nothing was changed"
    }
    Stop-Rescue 'AGENT_NOT_RESETTABLE_OFFLINE' 'the only launch agent is EC2Launch v1 and its initialization task is not scheduled: run InitializeInstance.ps1 -Schedule on the running instance (or use EC2Rescue for Windows Server); the volume was not changed'
  }

  foreach ($write in $writes) {
    try { [IO.File]::WriteAllText($write.Path, $write.Text, $write.Encoding) } catch { Stop-Rescue 'WRITE_FAILED' "$(& $shown $write.Path) could not be written: $($_.Exception.Message)" }
    Write-RaLog "wrote $(& $shown $write.Path)"
  }
  foreach ($path in $removes) {
    try { Remove-Item -LiteralPath $path -Force } catch { Stop-Rescue 'WRITE_FAILED' "$(& $shown $path) could not be removed: $($_.Exception.Message)" }
    Write-RaLog "removed $(& $shown $path)"
  }
  $changed = New-Object 'System.Collections.Generic.List[string]'
  foreach ($write in $writes) { $changed.Add((& $shown $write.Path)) }
  if ($scheduleV1) {
    $problem = Register-InitializationTask $paths.V1Script $paths.V1Task
    if ($problem) {
      $done = @($changed) + @($removes | ForEach-Object { & $shown $_ })
      Stop-Rescue 'AGENT_SCHEDULE_FAILED' "EC2Launch v1: $problem (already changed: $(if ($done.Count -gt 0) { $done -join ', ' } else { 'nothing' }))"
    }
    $changed.Add((& $shown $paths.V1Task))
    Write-RaLog "scheduled $(& $shown $paths.V1Task)"
  }
  return [pscustomobject]@{
    Agents = @($agents)
    FilesChanged = @($changed)
    FilesRemoved = @($removes | ForEach-Object { & $shown $_ })
    Warnings = @($warnings)
  }
}

# ------------------------------------------------------------------------------------------------

# Online: the running system's own drive; nothing to find, mount or put back, and no reboot (the
# service reboots the instance through the EC2 API).
function Invoke-Online {
  if ($TargetInstanceId -cnotmatch '^i-[0-9a-f]{8,32}$') { Stop-Rescue 'INVALID_INPUT' 'RA_TARGET_INSTANCE_ID must look like i-0123456789abcdef0' }
  $root = $env:SystemDrive + '\'
  Write-RaLog "job ${JobId}: online on $TargetInstanceId, root $root"
  if (-not (Test-Path -LiteralPath (Join-Path $root 'Windows\System32\config\SYSTEM') -PathType Leaf)) {
    Stop-Rescue 'WINDOWS_VOLUME_NOT_FOUND' "no Windows installation at $root (no Windows\System32\config\SYSTEM)"
  }
  $result = Invoke-PasswordReset $root
  Write-RaSummary ([ordered]@{
      ok = $true
      script = $ScriptName
      mode = 'online'
      agents = @($result.Agents)
      filesChanged = @($result.FilesChanged)
      filesRemoved = @($result.FilesRemoved)
      warnings = @($result.Warnings)
    })
}

function Invoke-Main {
  if ($JobId -cnotmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$') { Stop-Rescue 'INVALID_INPUT' "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'" }
  if ($Online) { Invoke-Online; return }
  if ($Mode -cne 'offline') { Stop-Rescue 'INVALID_INPUT' "RA_MODE must be 'online' or 'offline' (or unset)" }
  if ($VolumeId -cnotmatch '^vol-[0-9a-f]{8,32}$') { Stop-Rescue 'INVALID_INPUT' 'RA_VOLUME_ID must look like vol-0123456789abcdef0' }
  if ($Device -cnotmatch '^xvd[a-z]{1,2}$') { Stop-Rescue 'INVALID_INPUT' 'RA_DEVICE must look like xvdf' }
  if ($env:RA_DEVICE_WAIT_SECONDS) {
    if ($env:RA_DEVICE_WAIT_SECONDS -cnotmatch '^[0-9]{1,4}$') { Stop-Rescue 'INVALID_INPUT' 'RA_DEVICE_WAIT_SECONDS must be a number of seconds' }
    $Script:DeviceWaitSeconds = [int]$env:RA_DEVICE_WAIT_SECONDS
  }
  Write-RaLog "job ${JobId}: looking for $VolumeId of $TargetInstanceId"

  $deadline = (Get-Date).AddSeconds($DeviceWaitSeconds)
  do {
    Update-HostStorageCache -ErrorAction SilentlyContinue
    $candidates = Find-RescueDisk
    if ($candidates.Count -gt 0 -or (Get-Date) -ge $deadline) { break }
    Start-Sleep -Seconds 5
  } while ($true)
  if ($candidates.Count -eq 0) { Stop-Rescue 'DISK_NOT_FOUND' "no disk for $VolumeId after ${DeviceWaitSeconds}s (serial number $($VolumeId.Replace('-', '')), or AWS PV device $Device)" }
  if ($candidates.Count -gt 1) { Stop-Rescue 'DISK_NOT_FOUND' "more than one disk matches $VolumeId (disks $(@($candidates | ForEach-Object { $_.Number }) -join ', '))" }
  $disk = $candidates[0]
  # Never the helper's own Windows disk.
  if ($disk.IsBoot -or $disk.IsSystem) { Stop-Rescue 'DISK_IS_HELPER_ROOT' "disk $($disk.Number) for $VolumeId is this helper's boot or system disk" }
  $Script:PartitionStyle = [string]$disk.PartitionStyle
  $Script:OriginalId = Get-DiskIdentifier $disk
  $Script:DiskNumber = [int]$disk.Number
  Write-RaLog "found disk $($Script:DiskNumber) ($($Script:PartitionStyle), identifier $($Script:OriginalId), $(if ($disk.IsOffline) { "offline: $([string]$disk.OfflineReason)" } else { 'online' }))"

  Mount-RescueDisk
  $windows = Find-WindowsPartition
  Write-RaLog "Windows partition $($windows.Number) at $($windows.Root)"
  $result = Invoke-PasswordReset $windows.Root
  $diskNumber = $Script:DiskNumber
  $problem = Restore-Disk
  if ($problem) {
    $code = if ($Script:SignatureChanged -and -not $Script:SignatureRestored) { 'SIGNATURE_RESTORE_FAILED' } else { 'DISK_OFFLINE_FAILED' }
    Stop-Rescue $code "the volume was updated ($(@($result.FilesChanged + $result.FilesRemoved) -join ', ')) but $problem"
  }
  Write-RaSummary ([ordered]@{
      ok = $true
      script = $ScriptName
      volumeId = $VolumeId
      disk = [ordered]@{
        number = $diskNumber
        partitionStyle = $Script:PartitionStyle
        signatureCollision = [bool]$Script:SignatureCollision
        signatureRestored = [bool]$Script:SignatureRestored
      }
      partition = $windows.Number
      agents = @($result.Agents)
      filesChanged = @($result.FilesChanged)
      filesRemoved = @($result.FilesRemoved)
      warnings = @($result.Warnings)
    })
}

try {
  Invoke-Main
} catch {
  Stop-Rescue 'INTERNAL_ERROR' "$($_.Exception.Message) (line $($_.InvocationInfo.ScriptLineNumber))"
}
exit 0
