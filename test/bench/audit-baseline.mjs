// The baseline for the audit benchmark: the plainest streaming reader of a JSON-lines file there is, read in
// 1 MiB chunks, split on newlines, JSON.parse on every line, counting the records with `effect: "deny"`. What
// `leash audit` does beyond this (ordering, filters, output, the escape-free fast path) is what the ratio shows.
import { createReadStream } from 'node:fs';

let carry = '';
let records = 0;
let denied = 0;
for await (const chunk of createReadStream(process.argv[2], { highWaterMark: 1 << 20, encoding: 'utf8' })) {
  const lines = (carry + chunk).split('\n');
  carry = lines.pop() ?? '';
  for (const line of lines) {
    records++;
    if (JSON.parse(line).effect === 'deny') denied++;
  }
}
process.stdout.write(`${records} ${denied}\n`);
