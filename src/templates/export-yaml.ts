/**
 * Published versions as the YAML files the repo ships (case-templates/*.yaml and
 * case-templates/fragments/*.yaml): the loader reads them back to the same definition (same
 * canonical hash), so a version captured at runtime can be committed to the repository.
 */
import YAML from 'yaml';
import type { FragmentDefinition } from '../fragments/types.js';
import type { CaseTemplate } from './types.js';

function toYaml(value: unknown, comment: string): string {
  const doc = new YAML.Document(value);
  doc.commentBefore = comment;
  // Long CEL conditions stay on one line: folding would not change them, but keeps diffs small.
  return doc.toString({ lineWidth: 0 });
}

/** `case-templates/<key>.yaml` of a version (name the file `<key>@<version>.yaml` beside older ones). */
export function templateToYaml(template: CaseTemplate): string {
  return toYaml(template, ` ${template.key}@${template.version}, exported from Tessera. Published versions are immutable: bump \`version\` to change it.`);
}

/** `case-templates/fragments/<key>@<version>.yaml`. */
export function fragmentToYaml(definition: FragmentDefinition): string {
  return toYaml(definition, ` ${definition.key}@${definition.version}, exported from Tessera. Published versions are immutable: bump \`version\` to change it.`);
}
