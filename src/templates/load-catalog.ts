/**
 * Reads a catalog directory — templates in `dir/*.yaml`, fragment definitions in
 * `dir/fragments/*.{yaml,yml,json}` — and validates it with `buildCatalog`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { compileExpression } from '../fragments/expressions.js';
import { validateFragmentDefinition } from '../fragments/validate-definition.js';
import { buildCatalog, type CatalogDeps, type CatalogResult, type SourceFile } from './build-catalog.js';
import type { LoadProblem } from './load-problem.js';

/** Larger files are refused unread: a template is a few KB, a fragment a few dozen. */
export const MAX_CATALOG_FILE_BYTES = 1024 * 1024;

const TEMPLATE_FILE = /\.ya?ml$/i;
const FRAGMENT_FILE = /\.(ya?ml|json)$/i;

/** The fragment engine's own validator and CEL compiler: the same checks the API applies. */
export const defaultCatalogDeps: CatalogDeps = {
  validateFragmentDefinition,
  compileCondition: (source) => {
    compileExpression(source, 'bool');
  },
};

/**
 * Loads and validates the catalog under `dir`. Never throws for content: unreadable or
 * invalid files become `problems` (file paths as `path.join(dir, name)`), and only clean
 * templates and fragments are returned. A missing `dir` is a problem too; a missing
 * `dir/fragments` is an empty library.
 */
export async function loadCatalog(dir: string, deps: CatalogDeps = defaultCatalogDeps): Promise<CatalogResult> {
  const problems: LoadProblem[] = [];
  const files: SourceFile[] = [];
  const read = async (names: string[], sub: string, kind: SourceFile['kind']) => {
    for (const name of names) {
      const file = path.join(dir, sub, name);
      try {
        const { size } = await stat(file);
        if (size > MAX_CATALOG_FILE_BYTES) {
          problems.push({ code: 'READ_FAILED', file, path: '', message: `file has ${size} bytes; the limit is ${MAX_CATALOG_FILE_BYTES}` });
          continue;
        }
        files.push({ file, kind, text: await readFile(file, 'utf8') });
      } catch (error) {
        problems.push({ code: 'READ_FAILED', file, path: '', message: messageOf(error) });
      }
    }
  };

  const top = await list(dir);
  if ('error' in top) {
    const message = top.error === 'ENOENT' ? 'catalog directory not found' : top.error;
    return { templates: [], fragments: [], origins: [], problems: [{ code: 'READ_FAILED', file: dir, path: '', message }] };
  }
  const library = await list(path.join(dir, 'fragments'));
  if ('error' in library && library.error !== 'ENOENT') {
    problems.push({ code: 'READ_FAILED', file: path.join(dir, 'fragments'), path: '', message: library.error });
  }
  await read(top.names.filter((n) => TEMPLATE_FILE.test(n)), '', 'template');
  await read(('names' in library ? library.names : []).filter((n) => FRAGMENT_FILE.test(n)), 'fragments', 'fragment');

  const result = buildCatalog(files, deps);
  return { ...result, problems: [...problems, ...result.problems] };
}

/** Plain file names in `dir`, sorted; `{ error: 'ENOENT' }` when `dir` does not exist. */
async function list(dir: string): Promise<{ names: string[] } | { error: string }> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return { names: entries.filter((e) => e.isFile()).map((e) => e.name).sort() };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { error: code === 'ENOENT' ? 'ENOENT' : messageOf(error) };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
