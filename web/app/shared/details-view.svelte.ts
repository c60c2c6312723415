// DetailsView: whether the pages show their technical details (policy names, τ, cache slots, prefill costs); off by default, kept per browser.

const storageKey = 'bouquet.showDetails';

export class DetailsView {
  #shown = $state(false);

  constructor(private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null = typeof localStorage === 'undefined' ? null : localStorage) {
    try {
      this.#shown = this.storage?.getItem(storageKey) === '1';
    } catch {
      this.#shown = false; // storage blocked (private mode, sandboxed frame): details start hidden
    }
  }

  get shown(): boolean {
    return this.#shown;
  }

  set shown(value: boolean) {
    this.#shown = value;
    try {
      this.storage?.setItem(storageKey, value ? '1' : '0');
    } catch {
      // not kept across pages; the toggle still works on this one
    }
  }
}

/** The one toggle every page reads (the top bar flips it). */
export const details = new DetailsView();
