// Hands received packets to a connection's listeners, holding those that arrive before anyone listens.

/**
 * The receiving side every `PeerConnection` shares: packets that arrive before the first
 * `subscribe` are kept and replayed to it on the next microtask (a data channel can deliver before
 * the session code has attached its handler); later packets go to every listener in order.
 */
export class PacketInbox {
  private readonly handlers = new Set<(packet: ArrayBuffer) => void>();
  private readonly early: ArrayBuffer[] = [];

  /** Delivers one received packet, or keeps it until someone listens. */
  deliver(packet: ArrayBuffer): void {
    if (this.handlers.size === 0) {
      this.early.push(packet);
      return;
    }
    for (const h of this.handlers) h(packet);
  }

  /** Adds a listener (replaying the kept packets to it); returns the function that removes it. */
  subscribe(handler: (packet: ArrayBuffer) => void): () => void {
    this.handlers.add(handler);
    if (this.early.length > 0) {
      const queued = this.early.splice(0);
      queueMicrotask(() => {
        for (const p of queued) handler(p);
      });
    }
    return () => this.handlers.delete(handler);
  }
}
