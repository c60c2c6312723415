// Session-host fixtures: a toy-model volunteer on the in-memory network, and a raw peer that sends frames as given.
import {
  FrameLink, Reassembler, decodeFrame, encodeFrame, toPackets,
  type Frame, type MemoryNetwork, type MemoryTransport, type PeerConnection,
} from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { SessionHost, type HostLimits } from '../../web/volunteer/index.ts';
import { ToyExecutor, toyShape } from './toy-model.ts';

/** A volunteer of the toy model: its transport, session host and block runtime double. */
export interface ToyVolunteer {
  peerId: string;
  span: BlockSpan;
  transport: MemoryTransport;
  host: SessionHost;
  exec: ToyExecutor;
}

/** A toy-model volunteer serving `span` on `net`, with `cacheSlots` slots (default 100) and the host's `limits`. */
export function toyVolunteer(net: MemoryNetwork, peerId: string, span: BlockSpan, cacheSlots = 100, limits: HostLimits = {}): ToyVolunteer {
  const transport = net.createTransport(peerId);
  const exec = new ToyExecutor();
  const host = new SessionHost(exec, undefined, limits);
  host.setBlocks({ span, cacheSlots, maxSessionTokens: toyShape.maxSeqLen, hiddenSize: toyShape.hiddenSize });
  transport.onConnection((conn) => host.attach(new FrameLink(conn)));
  return { peerId, span, transport, host, exec };
}

/** A raw peer that sends frames (or packets) as given and collects the frames that come back. */
export class RawPeer {
  readonly received: Frame[] = [];
  private readonly r = new Reassembler();
  constructor(readonly conn: PeerConnection) {
    conn.onMessage((p) => {
      const bytes = this.r.accept(p);
      if (bytes !== null) this.received.push(decodeFrame(bytes));
    });
  }

  async sendFrame(f: Frame): Promise<void> {
    for (const p of toPackets(encodeFrame(f), f.id)) await this.conn.send(p);
  }

  /** The answer to request `id`, polled every 2 ms up to `tries` times. */
  async answerTo(id: number, tries = 500): Promise<Frame> {
    for (let i = 0; i < tries; i++) {
      const f = this.received.find((x) => x.id === id);
      if (f !== undefined) return f;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`no answer to ${id}`);
  }

  /** The error code of the answer to `id`, or the answer's type when it is not an error. */
  async outcome(id: number): Promise<string> {
    const f = await this.answerTo(id);
    return f.type === 'error' ? f.code : f.type;
  }
}
