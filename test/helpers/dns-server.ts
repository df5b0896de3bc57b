// Test DNS server: a real UDP resolver on 127.0.0.1:0 that answers A/AAAA from a fixed table.
//
// Why: the proxy must decide before it resolves, and must dial exactly the address it checked. Tests prove that
// by pointing the proxy's resolver here and counting queries ("a denied name is never looked up"), and by
// answering names with private or loopback addresses (DNS rebinding, SSRF to metadata endpoints).
//
// Never: forward a query anywhere, answer from the host's resolver, or bind anything but loopback. Unknown names
// are NXDOMAIN, so a test can never reach the real internet through a forgotten record.

import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket } from 'dns-packet';

export interface TestDnsServer {
  /** "127.0.0.1:PORT", ready for `Resolver#setServers([address])`. */
  address: string;
  port: number;
  /** Every query received, in order; names lower-cased without the trailing dot. */
  queries: { name: string; type: string }[];
  /** How many queries (any type) were received for this name. */
  queriesFor(name: string): number;
  /** Forget the recorded queries. */
  reset(): void;
  close(): Promise<void>;
}

export type DnsRecords = Record<string, { A?: string[]; AAAA?: string[] }>;

export interface DnsServerOptions {
  /** Hold every answer this long, to exercise resolver timeouts. */
  delayMs?: number;
  /** Names answered with SERVFAIL (RFC 1035 §4.1.1 RCODE 2) whatever their records. */
  servfail?: string[];
}

// RFC 1035 §4.1.1 RCODE values; dns-packet takes them in the low four bits of `flags`.
const RCODE_NOERROR = 0;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const TTL_SECONDS = 60;

/** DNS names compare case-insensitively (RFC 4343) and "a.example." is "a.example". */
export function normaliseDnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export async function startDnsServer(records: DnsRecords, opts: DnsServerOptions = {}): Promise<TestDnsServer> {
  const table = new Map(Object.entries(records).map(([name, rrs]) => [normaliseDnsName(name), rrs]));
  const servfail = new Set((opts.servfail ?? []).map(normaliseDnsName));
  const queries: { name: string; type: string }[] = [];
  const pendingTimers = new Set<NodeJS.Timeout>();
  const socket = dgram.createSocket('udp4');

  function answer(query: DecodedPacket): Buffer {
    const questions = query.questions ?? [];
    let rcode = RCODE_NOERROR;
    const answers: Answer[] = [];
    for (const q of questions) {
      const name = normaliseDnsName(q.name);
      queries.push({ name, type: q.type });
      if (servfail.has(name)) {
        rcode = RCODE_SERVFAIL;
        continue;
      }
      const rrs = table.get(name);
      if (!rrs) {
        rcode = RCODE_NXDOMAIN;
        continue;
      }
      if (q.type === 'A' || q.type === 'AAAA') {
        for (const data of rrs[q.type] ?? []) {
          // Echo the question's own spelling: resolvers match answers to questions byte for byte.
          answers.push({ type: q.type, class: 'IN', name: q.name, ttl: TTL_SECONDS, data });
        }
      }
    }
    const rd = query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0;
    return dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | rd | rcode,
      questions,
      answers,
    });
  }

  socket.on('message', (msg, rinfo) => {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // Garbage is dropped, as a real server would; the client times out.
    }
    const reply = answer(query);
    const send = () => {
      // The socket may already be closed by a test's teardown while a delayed answer waits.
      try {
        socket.send(reply, rinfo.port, rinfo.address);
      } catch {
        /* closed */
      }
    };
    if (opts.delayMs && opts.delayMs > 0) {
      const timer = setTimeout(() => {
        pendingTimers.delete(timer);
        send();
      }, opts.delayMs);
      pendingTimers.add(timer);
    } else {
      send();
    }
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;

  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    queriesFor(name) {
      const wanted = normaliseDnsName(name);
      return queries.filter((q) => q.name === wanted).length;
    },
    reset() {
      queries.length = 0;
    },
    close() {
      for (const timer of pendingTimers) clearTimeout(timer);
      pendingTimers.clear();
      return new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
