/**
 * Object names come from whoever filled the source (a blob name can be `../../etc/passwd`),
 * so every name is checked before it becomes a path under a local destination.
 */

/**
 * The name as a safe relative path with `/` separators, or undefined when it could escape the
 * root it is joined to: absolute paths, drive letters, `..` segments, control characters.
 * Backslashes count as separators (they are on Windows); empty and `.` segments are dropped.
 *
 * @example
 * safeRelativeName('a/./b//c.jpg');   // 'a/b/c.jpg'
 * safeRelativeName('../secret.jpg');  // undefined
 * safeRelativeName('C:\\x.jpg');      // undefined
 */
export function safeRelativeName(name: string): string | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  // NUL and other control characters truncate or confuse paths on some systems.
  if (/[\u0000-\u001f\u007f]/.test(name)) return undefined;
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/')) return undefined;
  if (/^[A-Za-z]:/.test(slashed)) return undefined;
  const parts: string[] = [];
  for (const part of slashed.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return undefined;
    // Windows ignores trailing dots and spaces, so `.. ` and `...` can act as `..` there.
    if (/^\.[. ]*$/.test(part)) return undefined;
    parts.push(part);
  }
  return parts.length ? parts.join('/') : undefined;
}
