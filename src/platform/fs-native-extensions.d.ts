/** The part of `fs-native-extensions` (no types of its own) that data-dir-lock.ts uses. */
declare module 'fs-native-extensions' {
  /** Takes an exclusive (or `shared`) advisory lock on a byte range; false when another holds it. Never waits. */
  export function tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
  export function unlock(fd: number, offset?: number, length?: number): void;
  const fsx: { tryLock: typeof tryLock; unlock: typeof unlock };
  export default fsx;
}
