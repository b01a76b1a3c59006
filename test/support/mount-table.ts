/** One line of /proc/self/mountinfo (proc(5)), with the fields the mounter uses. */
export interface MountInfoEntry {
  readonly mountId: number;
  readonly parentId: number;
  readonly mountPoint: string;
  /** Per-mount options (rw, nosuid, nodev, noexec, relatime ...). */
  readonly mountOptions: readonly string[];
  readonly fsType: string;
  readonly source: string;
  /** Per-superblock options (size=..., mode=...). */
  readonly superOptions: readonly string[];
}

/**
 * Parses /proc/self/mountinfo. Lines that do not have the documented shape are skipped rather than
 * failing the whole table (the kernel may add optional fields; the ` - ` separator ends them).
 */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = parseMountInfoLine(line);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

function parseMountInfoLine(line: string): MountInfoEntry | undefined {
  const fields = line.trim().split(' ');
  const separator = fields.indexOf('-', 6);
  if (fields.length < 10 || separator < 0 || fields.length < separator + 4) return undefined;
  const mountId = Number(fields[0]);
  const parentId = Number(fields[1]);
  if (!Number.isInteger(mountId) || !Number.isInteger(parentId)) return undefined;
  return {
    mountId,
    parentId,
    mountPoint: unescapeMountField(fields[4]!),
    mountOptions: fields[5]!.split(','),
    fsType: unescapeMountField(fields[separator + 1]!),
    source: unescapeMountField(fields[separator + 2]!),
    superOptions: fields[separator + 3]!.split(','),
  };
}

/** Undoes the kernel's octal escapes of space, tab, newline and backslash (`\040`, `\011`, `\012`, `\134`). */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount whose mount point is `path` (the last one wins: it hides the earlier ones). */
export function findMount(entries: readonly MountInfoEntry[], path: string): MountInfoEntry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.mountPoint === path) return entries[i];
  return undefined;
}
