import { LeashError } from '../errors.js';
import type { CommandIo } from './io.js';

export async function serveCommand(_options: { policy?: string[]; listen?: string; audit?: string }, _io: CommandIo): Promise<number> {
  throw new LeashError('LEASH_USAGE', 'serve is not built yet');
}
