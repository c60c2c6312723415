// The admin token a policy switch needs: asked for once, kept in this tab's sessionStorage (gone when the tab closes).
/** The part of Storage used here (window.sessionStorage fits; tests pass a Map-backed one). */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const storageKey = 'bouquet.adminToken';

function sessionStore(): TokenStorage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // storage disabled: the token lives in memory only
  }
}

/** The admin token of this tab, reactive: null until the person types it. */
export class AdminToken {
  #value = $state<string | null>(null);
  readonly #storage: TokenStorage | null;

  constructor(storage: TokenStorage | null = sessionStore()) {
    this.#storage = storage;
    const kept = storage?.getItem(storageKey) ?? null;
    this.#value = kept === null || kept === '' ? null : kept;
  }

  get value(): string | null {
    return this.#value;
  }

  /** Keeps `token` for this tab. */
  set(token: string): void {
    const t = token.trim();
    this.#value = t === '' ? null : t;
    if (this.#value === null) this.#storage?.removeItem(storageKey);
    else this.#storage?.setItem(storageKey, this.#value);
  }

  /** Forgets the token (the server refused it): the next switch asks again. */
  clear(): void {
    this.#value = null;
    this.#storage?.removeItem(storageKey);
  }
}
