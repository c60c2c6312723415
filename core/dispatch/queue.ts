// The central FIFO queue (JFFC's, and the live coordinator's for every policy) and its hand-off of freed capacity.

/**
 * A FIFO queue with O(1) push, shift and push-to-front; the head index moves instead of the array
 * shifting, and the array is compacted once most of it is consumed.
 */
export class CentralQueue<T> {
  private items: T[] = [];
  private head = 0;

  /** Requests waiting. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends at the tail (a new arrival). */
  push(item: T): void {
    this.items.push(item);
  }

  /** Puts back at the head (a request that was being served and must wait again, e.g. after a failover). */
  pushFront(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  /** The head, without removing it. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Removes and returns the head. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** 0-based position of `item`, or -1. */
  indexOf(item: T): number {
    const i = this.items.indexOf(item, this.head);
    return i < 0 ? -1 : i - this.head;
  }

  /** Removes `item` wherever it is (a client gave up); false when it was not queued. */
  remove(item: T): boolean {
    const i = this.items.indexOf(item, this.head);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }
}

/** What serving the queue head did: it left the queue (granted, or answered with an error), or it must wait. */
export type HeadOutcome = 'served' | 'wait';

/**
 * Hands freed capacity to the queue, in FIFO order: `serve` decides the head (it must not touch the
 * queue); a 'served' head leaves and the next is tried, a 'wait' stops. Returns how many left.
 */
export function serveQueue<T>(queue: CentralQueue<T>, serve: (head: T) => HeadOutcome): number {
  let served = 0;
  for (let head = queue.peek(); head !== undefined; head = queue.peek()) {
    if (serve(head) === 'wait') break;
    queue.shift();
    served++;
  }
  return served;
}
