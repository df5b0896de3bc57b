// Plain-HTTP connections kept alive between requests. Each request on one is decided on its own, but an idle
// connection is still an open door a reload may have shut: clients pool connections per origin, so the request
// that comes next on it is most likely for the same host. After a reload, an idle connection whose last request
// the new policy would deny is closed and audited (policy_revoked); one with a request in flight finishes it
// under the policy it started with, and its next request is decided by the new one. Per process, owned by the
// server; nothing in module scope.

import type { Socket } from 'node:net';
import type { RequestFacts } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { judge } from './verdict.js';

interface Connection {
  /** Requests on it not yet answered. */
  inFlight: number;
  /** Settles when the last request that started on it has finished: the next one waits for it. */
  tail: Promise<void>;
  /** One release per request started and not finished, oldest first. */
  readonly releases: (() => void)[];
  /** What its last request asked for, once it was decided. */
  last: RequestFacts | undefined;
}

export class KeepAliveConnections {
  private readonly connections = new Map<Socket, Connection>();

  add(socket: Socket): void {
    this.connections.set(socket, { inFlight: 0, last: undefined, tail: Promise.resolve(), releases: [] });
    socket.once('close', () => this.connections.delete(socket));
  }

  /**
   * A request starts on `socket`; resolves when the requests before it on the same connection have finished.
   * Pipelined requests (RFC 9112 §9.3.2) are parsed before the one ahead of them is answered; handled one after
   * another, a request queued behind a refusal that closed the connection is never decided, forwarded or answered.
   */
  started(socket: Socket): Promise<void> {
    const connection = this.connections.get(socket);
    if (!connection) return Promise.resolve();
    connection.inFlight++;
    const previous = connection.tail;
    connection.tail = new Promise((release) => connection.releases.push(release));
    return previous;
  }

  finished(socket: Socket, facts: RequestFacts | undefined): void {
    const connection = this.connections.get(socket);
    if (!connection) return;
    connection.inFlight = Math.max(0, connection.inFlight - 1);
    connection.releases.shift()?.();
    if (facts) connection.last = facts;
  }

  /**
   * Closes the idle connections whose last request came from an agent `locked` names (a lockdown); calls `audit`
   * with the message `locked` gave. One with a request in flight is closed with that request's exchange.
   */
  revokeAgents(
    locked: (agent: string) => string | undefined,
    audit: (socket: Socket, facts: RequestFacts, message: string) => void,
  ): number {
    let closed = 0;
    for (const [socket, connection] of this.connections) {
      if (connection.inFlight > 0 || !connection.last || socket.destroyed) continue;
      const message = locked(connection.last.agent ?? 'anonymous');
      if (message === undefined) continue;
      audit(socket, connection.last, message);
      socket.destroy();
      closed++;
    }
    return closed;
  }

  /** Closes the idle connections whose last request `policy` denies; calls `audit` for each. */
  revoke(policy: CompiledPolicy, audit: (socket: Socket, facts: RequestFacts, message: string) => void): number {
    let closed = 0;
    for (const [socket, connection] of this.connections) {
      if (connection.inFlight > 0 || !connection.last || socket.destroyed) continue;
      // Report mode turns a deny into an allow with wouldDeny: nothing is closed, as nothing is blocked.
      const verdict = judge(policy, connection.last);
      if (verdict.effect === 'allow') continue;
      audit(
        socket,
        connection.last,
        `policy revision ${policy.revision} denies what this kept-alive connection last asked for: ${verdict.message}`,
      );
      socket.destroy();
      closed++;
    }
    return closed;
  }
}
