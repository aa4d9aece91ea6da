/**
 * A minimal Windows registry hive file ("regf"), written from scratch: enough of a SYSTEM hive for
 * the NTFS rescue script to read `Select\Current` and `ControlSet00N\Services\<name>\Start` with
 * hivexget. Keys hold DWORD values only. Layout (the format hivex reads): a 4 KiB base block
 * (signature, sequence numbers, root cell offset, hive bins size, XOR checksum of its first 508
 * bytes), then one "hbin" of cells: nk (key), lf (subkey list), a value list, vk (value, a DWORD
 * stored in the offset field) and one sk (security descriptor) shared by every key.
 */

export interface HiveKey {
  /** DWORD values of the key. */
  values?: Record<string, number>;
  subkeys?: Record<string, HiveKey>;
}

/** A SYSTEM hive whose current control set has these services (name → Start value). */
export function systemHive(services: Record<string, number>, current = 1): Buffer {
  const controlSet = `ControlSet${String(current).padStart(3, '0')}`;
  const serviceKeys: Record<string, HiveKey> = {};
  for (const [name, start] of Object.entries(services)) serviceKeys[name] = { values: { Start: start, Type: 16 } };
  serviceKeys.Tcpip = { values: { Start: 1, Type: 1 } };
  return buildHive({
    subkeys: {
      Select: { values: { Current: current, Default: current, LastKnownGood: current, Failed: 0 } },
      [controlSet]: { subkeys: { Services: { subkeys: serviceKeys }, Control: { values: { Dummy: 0 } } } },
    },
  });
}

const HBIN_START = 0x1000;
const HBIN_HEADER = 0x20;

/** Cells are allocated one after the other; offsets are relative to the first hbin. */
class CellWriter {
  private readonly chunks: Buffer[] = [];
  private size = HBIN_HEADER;

  /** Reserves a cell for `data` (its size field included, 8-byte aligned); returns its offset. */
  add(data: Buffer): number {
    const offset = this.size;
    const length = Math.ceil((data.length + 4) / 8) * 8;
    const cell = Buffer.alloc(length);
    cell.writeInt32LE(-length, 0);
    data.copy(cell, 4);
    this.chunks.push(cell);
    this.size += length;
    return offset;
  }

  /** Replaces the data of the cell at `offset` (same size). */
  set(offset: number, data: Buffer): void {
    let at = HBIN_HEADER;
    for (const chunk of this.chunks) {
      if (at === offset) {
        data.copy(chunk, 4);
        return;
      }
      at += chunk.length;
    }
    throw new Error(`no cell at ${offset}`);
  }

  /** The hbin blocks: one hbin of a multiple of 4 KiB, the rest a free cell. */
  bins(): Buffer {
    const total = Math.ceil((this.size + 8) / 4096) * 4096;
    const bin = Buffer.alloc(total);
    bin.write('hbin', 0, 'latin1');
    bin.writeUInt32LE(0, 4);
    bin.writeUInt32LE(total, 8);
    let at = HBIN_HEADER;
    for (const chunk of this.chunks) {
      chunk.copy(bin, at);
      at += chunk.length;
    }
    bin.writeInt32LE(total - at, at);
    return bin;
  }
}

function buildHive(root: HiveKey): Buffer {
  const cells = new CellWriter();
  // Owner and group-less self-relative security descriptor with no DACL: enough for a reader.
  const descriptor = Buffer.from([1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const skData = Buffer.alloc(20 + descriptor.length);
  skData.write('sk', 0, 'latin1');
  descriptor.copy(skData, 20);
  const sk = cells.add(skData);
  skData.writeUInt32LE(sk, 4);
  skData.writeUInt32LE(sk, 8);
  skData.writeUInt32LE(1, 12);
  skData.writeUInt32LE(descriptor.length, 16);
  cells.set(sk, skData);

  let keys = 0;
  const writeKey = (name: string, key: HiveKey, parent: number, isRoot: boolean): number => {
    keys++;
    const nameBytes = Buffer.from(name, 'latin1');
    const nk = Buffer.alloc(0x4c + nameBytes.length);
    const offset = cells.add(nk);
    const subkeys = Object.entries(key.subkeys ?? {}).sort(([a], [b]) => (a.toUpperCase() < b.toUpperCase() ? -1 : 1));
    const children = subkeys.map(([childName, child]) => ({ name: childName, offset: writeKey(childName, child, offset, false) }));
    let list = 0xffffffff;
    if (children.length > 0) {
      const lf = Buffer.alloc(4 + 8 * children.length);
      lf.write('lf', 0, 'latin1');
      lf.writeUInt16LE(children.length, 2);
      children.forEach((c, i) => {
        lf.writeUInt32LE(c.offset, 4 + 8 * i);
        Buffer.from(c.name.slice(0, 4).padEnd(4, '\0'), 'latin1').copy(lf, 8 + 8 * i);
      });
      list = cells.add(lf);
    }
    const values = Object.entries(key.values ?? {});
    let valueList = 0xffffffff;
    if (values.length > 0) {
      const offsets = values.map(([valueName, data]) => {
        const vName = Buffer.from(valueName, 'latin1');
        const vk = Buffer.alloc(0x14 + vName.length);
        vk.write('vk', 0, 'latin1');
        vk.writeUInt16LE(vName.length, 2);
        vk.writeUInt32LE(0x80000004, 4); // 4 bytes, stored in the offset field
        vk.writeUInt32LE(data >>> 0, 8);
        vk.writeUInt32LE(4, 12); // REG_DWORD
        vk.writeUInt16LE(1, 16); // ASCII name
        vName.copy(vk, 0x14);
        return cells.add(vk);
      });
      const vl = Buffer.alloc(4 * offsets.length);
      offsets.forEach((o, i) => vl.writeUInt32LE(o, 4 * i));
      valueList = cells.add(vl);
    }
    nk.write('nk', 0, 'latin1');
    nk.writeUInt16LE(isRoot ? 0x2c : 0x20, 2);
    nk.writeUInt32LE(isRoot ? 0xffffffff : parent, 0x10);
    nk.writeUInt32LE(children.length, 0x14);
    nk.writeUInt32LE(list, 0x1c);
    nk.writeUInt32LE(0xffffffff, 0x20);
    nk.writeUInt32LE(values.length, 0x24);
    nk.writeUInt32LE(valueList, 0x28);
    nk.writeUInt32LE(sk, 0x2c);
    nk.writeUInt32LE(0xffffffff, 0x30);
    nk.writeUInt32LE(Math.max(0, ...children.map((c) => c.name.length)) * 2, 0x34);
    nk.writeUInt32LE(Math.max(0, ...values.map(([n]) => n.length)) * 2, 0x3c);
    nk.writeUInt32LE(values.length > 0 ? 4 : 0, 0x40);
    nk.writeUInt16LE(nameBytes.length, 0x48);
    nameBytes.copy(nk, 0x4c);
    cells.set(offset, nk);
    return offset;
  };
  const rootOffset = writeKey('ROOT', root, 0, true);
  // Every key refers to the one descriptor.
  skData.writeUInt32LE(keys, 12);
  cells.set(sk, skData);

  const bins = cells.bins();
  const base = Buffer.alloc(HBIN_START);
  base.write('regf', 0, 'latin1');
  base.writeUInt32LE(1, 4);
  base.writeUInt32LE(1, 8);
  base.writeUInt32LE(1, 0x14); // major version
  base.writeUInt32LE(3, 0x18); // minor version
  base.writeUInt32LE(0, 0x1c); // primary file
  base.writeUInt32LE(1, 0x20); // direct memory load
  base.writeUInt32LE(rootOffset, 0x24);
  base.writeUInt32LE(bins.length, 0x28);
  base.writeUInt32LE(1, 0x2c);
  let checksum = 0;
  for (let i = 0; i < 0x1fc; i += 4) checksum ^= base.readUInt32LE(i);
  base.writeUInt32LE(checksum >>> 0, 0x1fc);
  return Buffer.concat([base, bins]);
}
