/**
 * One HTTP(S) GET, no redirects followed, and the body of a response read with an idle timeout.
 * Failures come back as TxnError('E_DOWNLOAD') whose details say whether a retry may help; the
 * fetcher turns them into the message the user sees (URL, path, expected, received).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { TxnError, errorMessage, type ErrorCode } from '@codemate-txn/core';

export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

/** Why one attempt failed, in words that follow "GET <url> ", and whether another may succeed. */
export interface FailureFacts {
  retryable: boolean;
  /** HTTP status, when the server answered. */
  status?: number;
  /** The content did not match the manifest (too long, too short): E_STAGE_VERIFY, not a transport error. */
  verify?: boolean;
  /** What arrived, when the byte count alone would mislead (a cut-off body). */
  received?: string;
}

export function failure(reason: string, facts: FailureFacts, cause?: unknown): TxnError {
  const code: ErrorCode = facts.verify ? 'E_STAGE_VERIFY' : 'E_DOWNLOAD';
  return new TxnError(code, reason, {
    ...(cause === undefined ? {} : { cause }),
    details: {
      reason,
      retryable: facts.retryable,
      ...(facts.status === undefined ? {} : { status: facts.status }),
      ...(facts.received === undefined ? {} : { received: facts.received }),
    },
  });
}

export function isRetryable(e: unknown): boolean {
  return e instanceof TxnError && e.facts.retryable === true;
}

/** Network-level failure of a request or a body: connection refused, reset, DNS, TLS… */
function networkFailure(e: unknown): TxnError {
  const code = (e as { code?: unknown }).code;
  const what = typeof code === 'string' ? `${code}: ${errorMessage(e)}` : errorMessage(e);
  return failure(`failed on the network (${what})`, { retryable: true }, e);
}

export function timeoutFailure(ms: number, during: string): TxnError {
  return failure(`timed out: no ${during} for ${ms} ms`, { retryable: true });
}

/** Sends one GET and resolves with the response head; the body is the caller's to read or destroy. */
export function getOnce(url: URL, headers: Record<string, string>, timeoutMs: number, agents: Agents): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const opts: http.RequestOptions = { headers, agent: isHttps ? agents.https : agents.http };
    let settled = false;
    const req = (isHttps ? https : http).get(url, opts, (res) => {
      settled = true;
      clearTimeout(timer);
      resolve(res);
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      const err = timeoutFailure(timeoutMs, 'response');
      req.destroy(err);
      reject(err);
    }, timeoutMs);
    req.on('error', (e: unknown) => {
      // After the head arrived, body errors surface on the response stream instead.
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(networkFailure(e));
    });
  });
}

/**
 * The response body as chunks, each awaited at most timeoutMs (a stalled server is a timeout,
 * not a hang). The response is destroyed when the consumer stops early or anything fails.
 */
export async function* readBody(res: http.IncomingMessage, timeoutMs: number): AsyncGenerator<Buffer> {
  const it = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(timeoutFailure(timeoutMs, 'data')), timeoutMs);
      });
      let r: IteratorResult<Buffer>;
      try {
        r = await Promise.race([it.next(), stalled]);
      } catch (e: unknown) {
        if (e instanceof TxnError) throw e;
        throw networkFailure(e);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    if (!res.complete) res.destroy();
  }
}
