// Preloaded into a benchmark child process (`node --import ./test/bench/peak-rss.mjs ...`): at exit, prints the
// process's peak resident set size on stderr as `peak-rss-kb N`, read by the parent. getrusage's maxrss is exact
// where sampling /proc from outside could miss a short peak.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  writeSync(2, `\npeak-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
