// Stop sequences over streamed text: text is released only once no stop sequence can still begin in it; the first match ends the answer.
export class StopMatcher {
  readonly #stops: readonly string[];
  #pending = '';
  #stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s !== '');
  }

  /** True once a stop sequence was seen: nothing after it is released. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Takes the next piece of text; returns what may be shown now (held back: a tail that may begin a stop sequence). */
  push(piece: string): string {
    if (this.#stopped) return '';
    const text = this.#pending + piece;
    let cut = -1;
    for (const s of this.#stops) {
      const i = text.indexOf(s);
      if (i !== -1 && (cut === -1 || i < cut)) cut = i;
    }
    if (cut !== -1) {
      this.#stopped = true;
      this.#pending = '';
      return text.slice(0, cut);
    }
    const hold = this.#heldTail(text);
    this.#pending = text.slice(text.length - hold);
    return text.slice(0, text.length - hold);
  }

  /** The text still held back (at the end of the answer it is shown: no stop sequence completed). */
  flush(): string {
    const rest = this.#stopped ? '' : this.#pending;
    this.#pending = '';
    return rest;
  }

  // Longest suffix of `text` that is a proper prefix of some stop sequence.
  #heldTail(text: string): number {
    let best = 0;
    for (const s of this.#stops) {
      for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
        if (text.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
