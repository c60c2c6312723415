// FrameLink: frames over one PeerConnection — chunking, validation, request/response correlation by id, timeouts.
import type { BouquetError } from '../errors/index.ts';
import { PeerError, toPeerError } from './errors.ts';
import { Reassembler, toPackets, type ReassemblyLimits } from './chunking.ts';
import { decodeFrame, encodeFrame, errorFrame, errorFromFrame, type DecodeLimits } from './frames.ts';
import { isRequest, type Frame, type RequestBody, type RequestFrame, type ResponseFrame, type ResponseOf } from './frame-types.ts';
import type { PeerConnection } from './transport.ts';

/** Answers one request; throwing (best a PeerError) sends an error frame back. */
export type RequestHandler = (request: RequestFrame, link: FrameLink) => Promise<ResponseFrame> | ResponseFrame;

/** Options of a FrameLink. */
export interface FrameLinkOptions {
  /** Limits for reassembling chunked frames. */
  reassembly?: Partial<ReassemblyLimits>;
  /** Limits applied while decoding frames. */
  decode?: Partial<DecodeLimits>;
  /** Default time a request waits for its answer, ms (default 30000). */
  requestTimeoutMs?: number;
  /** Called for every frame or packet that was refused (for logs and tests). */
  onProtocolError?: (err: PeerError) => void;
}

interface PendingRequest {
  type: RequestFrame['type'];
  resolve: (f: ResponseFrame) => void;
  reject: (e: BouquetError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Speaks the peer protocol over one connection. As a client it sends requests and resolves their
 * answers (error frames reject with the rebuilt PeerError); as a server it hands validated
 * requests to a handler and sends back its answer. A malformed packet or frame gets an error
 * reply (server side) or fails the request it answered (client side); nothing else is disturbed.
 */
export class FrameLink {
  private nextId = 1;
  private nextMessageId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly reassembler: Reassembler;
  private readonly decodeLimits: DecodeLimits;
  private readonly requestTimeoutMs: number;
  private handler: RequestHandler | undefined;
  private closedReason: string | undefined;
  private readonly closeHandlers = new Set<(reason: string) => void>();

  constructor(readonly connection: PeerConnection, private readonly options: FrameLinkOptions = {}) {
    this.reassembler = new Reassembler(options.reassembly);
    this.decodeLimits = { maxTensorBytes: options.decode?.maxTensorBytes ?? 64 * 1024 * 1024 };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    connection.onMessage((p) => this.onPacket(p));
    connection.onClose((reason) => this.onConnectionClosed(reason));
    if (!connection.isOpen) this.onConnectionClosed('connection already closed');
  }

  /** Peer id of the other side. */
  get remotePeerId(): string {
    return this.connection.remotePeerId;
  }

  /** True until the connection closes. */
  get isOpen(): boolean {
    return this.closedReason === undefined && this.connection.isOpen;
  }

  /** Serves incoming requests with `handler` (one handler per link). */
  serve(handler: RequestHandler): void {
    this.handler = handler;
  }

  /** Registers a handler called once when the link closes. */
  onClose(handler: (reason: string) => void): () => void {
    if (this.closedReason !== undefined) {
      const reason = this.closedReason;
      queueMicrotask(() => handler(reason));
      return () => undefined;
    }
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  /**
   * Sends a request and resolves with its answer. Rejects with the PeerError of an error frame,
   * with 'timeout' after `timeoutMs`, with 'peer-unavailable' when the connection closes first.
   */
  request<K extends keyof ResponseOf>(body: RequestBody<K>, timeoutMs: number = this.requestTimeoutMs): Promise<ResponseOf[K]> {
    if (!this.isOpen) {
      return Promise.reject(new PeerError('peer-unavailable', `connection to ${this.remotePeerId} is closed`, 0, this.remotePeerId));
    }
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    const frame = { ...body, id };
    return new Promise<ResponseOf[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) {
          reject(new PeerError('timeout', `${frame.type} to ${this.remotePeerId} got no answer within ${timeoutMs} ms`, id, this.remotePeerId));
        }
      }, timeoutMs);
      this.pending.set(id, { type: frame.type, resolve: resolve as (f: ResponseFrame) => void, reject, timer });
      this.sendFrame(frame).catch((err: unknown) => this.fail(id, toPeerError(err, 'peer-unavailable')));
    });
  }

  /** Encodes, chunks and sends one frame. */
  async sendFrame(frame: Frame): Promise<void> {
    const messageId = this.nextMessageId++;
    for (const packet of toPackets(encodeFrame(frame), messageId, this.connection.maxMessageBytes)) {
      await this.connection.send(packet);
    }
  }

  /** Closes the connection; pending requests reject with 'peer-unavailable'. */
  close(): void {
    this.connection.close();
    this.onConnectionClosed('closed locally');
  }

  private fail(id: number, err: PeerError): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(err);
  }

  private failAll(err: PeerError): void {
    for (const id of [...this.pending.keys()]) this.fail(id, err);
  }

  private onConnectionClosed(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.failAll(new PeerError('peer-unavailable', `connection to ${this.remotePeerId} closed (${reason})`, 0, this.remotePeerId));
    const handlers = [...this.closeHandlers];
    this.closeHandlers.clear();
    for (const h of handlers) h(reason);
  }

  private refuse(err: PeerError): void {
    this.options.onProtocolError?.(err);
    // A garbled answer fails the request it answers (or, unattributable, every request of this link);
    // a garbled request gets an error reply. Never answer an error with an error.
    const p = this.pending.get(err.re);
    if (p !== undefined) {
      this.fail(err.re, new PeerError(err.code, `${this.remotePeerId} sent an invalid answer: ${err.message}`, err.re, this.remotePeerId));
      return;
    }
    if (this.handler === undefined) {
      this.failAll(new PeerError(err.code, `${this.remotePeerId} sent an invalid frame: ${err.message}`, 0, this.remotePeerId));
      return;
    }
    if (this.isOpen) this.sendFrame(errorFrame(err)).catch(() => undefined);
  }

  private onPacket(packet: ArrayBuffer): void {
    let frame: Frame;
    try {
      const bytes = this.reassembler.accept(packet);
      if (bytes === null) return;
      frame = decodeFrame(bytes, this.decodeLimits);
    } catch (err) {
      this.refuse(toPeerError(err, 'bad-frame'));
      return;
    }
    if (isRequest(frame)) {
      this.onRequest(frame);
      return;
    }
    const p = this.pending.get(frame.id);
    if (p === undefined) {
      // A late answer (after a timeout) or a stray one: nothing waits for it.
      this.options.onProtocolError?.(new PeerError('bad-frame', `unexpected ${frame.type} for request ${frame.id}`, frame.id, this.remotePeerId));
      return;
    }
    this.pending.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.type === 'error') {
      p.reject(errorFromFrame(frame, this.remotePeerId));
      return;
    }
    const expected: Record<RequestFrame['type'], ResponseFrame['type']> = {
      'open-session': 'opened', step: 'step-result', close: 'closed', ping: 'pong',
    };
    if (expected[p.type] !== frame.type) {
      p.reject(new PeerError('bad-frame', `${this.remotePeerId} answered ${p.type} with ${frame.type}`, frame.id, this.remotePeerId));
      return;
    }
    p.resolve(frame);
  }

  private onRequest(frame: RequestFrame): void {
    const handler = this.handler;
    if (handler === undefined) {
      this.refuse(new PeerError('bad-frame', `this peer serves no requests (got ${frame.type})`, frame.id));
      return;
    }
    void (async () => {
      let answer: ResponseFrame;
      try {
        answer = await handler(frame, this);
      } catch (err) {
        this.options.onProtocolError?.(toPeerError(err));
        answer = errorFrame(err, frame.id);
      }
      if (!this.isOpen) return;
      try {
        await this.sendFrame({ ...answer, id: frame.id });
      } catch (err) {
        this.options.onProtocolError?.(toPeerError(err, 'peer-unavailable'));
      }
    })();
  }
}
