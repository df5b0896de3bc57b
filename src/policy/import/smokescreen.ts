import type { ImportResult } from './model.js';
export function importSmokescreen(file: string, _text: string): ImportResult {
  return { ok: false, issues: [{ location: { file, line: 1, column: 1 }, message: 'not yet' }] };
}
