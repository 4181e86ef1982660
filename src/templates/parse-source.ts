/**
 * Parses one catalog file (YAML, or JSON) into plain data, keeping a way back from a JSON
 * pointer to the line and column it came from, so schema and semantic problems can point
 * into the file and not only syntax errors.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { LoadProblem } from './load-problem.js';

export interface ParsedSource {
  /** `undefined` when the file did not parse (see `problems`). */
  value: unknown;
  problems: LoadProblem[];
  /**
   * Line/column of the value at `pointer` (of its key with `{ key: true }`), or of its
   * nearest ancestor that exists.
   */
  locate(pointer: string, options?: { key?: boolean }): { line: number; column: number } | undefined;
}

/** Refuse billion-laughs style alias expansion well before it costs anything. */
const MAX_ALIAS_COUNT = 100;

export function parseSource(file: string, text: string): ParsedSource {
  return /\.json$/i.test(file) ? parseJson(file, text) : parseYaml(file, text);
}

function parseYaml(file: string, text: string): ParsedSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const locate = locator(doc, lineCounter);
  const problems: LoadProblem[] = doc.errors.map((error) => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return { code: 'SYNTAX', file, path: '', line, column: col, message: `YAML: ${error.message}` };
  });
  if (problems.length > 0) return { value: undefined, problems, locate };
  try {
    return { value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), problems, locate };
  } catch (error) {
    // toJS throws on excessive aliases and on aliases to anchors that do not exist.
    const message = error instanceof Error ? error.message : String(error);
    return { value: undefined, problems: [{ code: 'SYNTAX', file, path: '', message: `YAML: ${message}` }], locate };
  }
}

function parseJson(file: string, text: string): ParsedSource {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const at = position ? linePos(text, Number(position[1])) : { line: 1, column: 1 };
    return {
      value: undefined,
      problems: [{ code: 'SYNTAX', file, path: '', ...at, message: `JSON: ${message}` }],
      locate: () => undefined,
    };
  }
  // JSON is YAML 1.2 flow syntax: reuse the YAML CST for positions when it reads the same.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, version: '1.2' });
  const locate = doc.errors.length === 0 ? locator(doc, lineCounter) : () => undefined;
  return { value, problems: [], locate };
}

function locator(doc: Document, lineCounter: LineCounter): ParsedSource['locate'] {
  return (pointer, options) => {
    let node: unknown = doc.contents;
    let best: { line: number; column: number } | undefined = position(node, lineCounter);
    const segments = splitPointer(pointer);
    for (const [i, segment] of segments.entries()) {
      let next: unknown;
      let at: { line: number; column: number } | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === segment);
        const wantKey = options?.key === true && i === segments.length - 1;
        // A key with no value (`foo:`) still has a position: the key's.
        next = pair ? (pair.value ?? pair.key) : undefined;
        at = position(pair && wantKey ? pair.key : next, lineCounter);
      } else if (isSeq(node) && /^\d+$/.test(segment)) {
        next = node.items[Number(segment)];
        at = position(next, lineCounter);
      }
      if (at === undefined) break;
      best = at;
      node = next;
    }
    return best;
  };
}

function position(node: unknown, lineCounter: LineCounter): { line: number; column: number } | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  if (!range) return undefined;
  const { line, col } = lineCounter.linePos(range[0]);
  return { line, column: col };
}

/** 1-based line and column of a character offset. */
function linePos(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lastNewline = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - lastNewline };
}

/** RFC 6901: `/a~1b/c~0d` -> ['a/b', 'c~d']. */
export function splitPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Inverse of `splitPointer`. */
export function joinPointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => '/' + String(s).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}
