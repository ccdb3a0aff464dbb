import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import { DkvError, invalidArgument } from '../errors.js';
import { WatchEventKind, type WatchRequest, type WatchResponse } from '../generated/dkv/v1/kv.js';
import type { DkvNode } from '../node/node.js';
import { encodeContext } from '../storage/record-codec.js';
import { decodeToken } from '../watch/token.js';
import type { WatchEvent, WatchEventKind as Kind, WatchSession } from '../watch/watch-session.js';
import { toServiceError } from './status.js';
import { validateKey, type Limits } from './validate.js';
import { toSibling } from './wire.js';

const KINDS: Record<Kind, WatchEventKind> = {
  created: WatchEventKind.WATCH_EVENT_KIND_CREATED,
  put: WatchEventKind.WATCH_EVENT_KIND_PUT,
  delete: WatchEventKind.WATCH_EVENT_KIND_DELETE,
  expire: WatchEventKind.WATCH_EVENT_KIND_EXPIRE,
  resync: WatchEventKind.WATCH_EVENT_KIND_RESYNC_REQUIRED,
};

function toWire(e: WatchEvent): WatchResponse {
  return {
    kind: KINDS[e.kind],
    key: e.key ?? Buffer.alloc(0),
    siblings: e.live.map(toSibling),
    context: e.context.size > 0 ? encodeContext(e.context) : Buffer.alloc(0),
    resumeToken: e.token,
    deleted: e.deleted ?? false,
  };
}

/**
 * watchHandler serves KV.Watch. Back-pressure: events the client has not read yet are
 * counted; past watchBufferLimit the stream ends with RESOURCE_EXHAUSTED, and the resume
 * token travels in the `dkv-resume-token` trailer (base64), so a slow watcher costs a bounded
 * amount of memory and loses nothing.
 */
export function watchHandler(node: DkvNode, limits: Limits) {
  return (call: ServerWritableStream<WatchRequest, WatchResponse>) => {
    let session: WatchSession | undefined;
    let done = false;
    const fail = (e: unknown, token?: Buffer) => {
      if (done) return;
      done = true;
      session?.close();
      const se = toServiceError(e);
      if (token) (se.metadata ?? new Metadata()).set('dkv-resume-token', token.toString('base64'));
      call.emit('error', se);
    };
    try {
      const r = call.request;
      if (r.key.length > 0 && r.prefix.length > 0) throw invalidArgument('key', 'set key or prefix, not both');
      const key = r.key.length > 0 ? validateKey(r.key, limits) : undefined;
      if (r.prefix.length > limits.maxKeyBytes) throw invalidArgument('prefix', `is ${r.prefix.length} bytes, over the limit of ${limits.maxKeyBytes} bytes`, limits.maxKeyBytes);
      const resume = r.resumeToken.length > 0 ? decodeToken(r.resumeToken) : undefined;
      let waiting = 0;
      // flushed is the token of the last event handed to the transport: a cut-off watcher
      // resumes from there, so the events still queued when it is cut off are not lost.
      let flushed = r.resumeToken;
      const limit = node.config.watchBufferLimit;
      session = node.watch({ key, prefix: key ? undefined : r.prefix }, resume, (e) => {
        if (done) return;
        waiting++;
        call.write(toWire(e), () => {
          waiting--;
          flushed = e.token;
        });
        if (waiting > limit)
          fail(new DkvError('WATCH_TOO_SLOW', `the watcher has more than ${limit} events it has not read (--watch-buffer); resume with the token in the dkv-resume-token trailer`), flushed);
      });
      call.on('cancelled', () => {
        done = true;
        session?.close();
      });
    } catch (e) {
      fail(e);
    }
  };
}
