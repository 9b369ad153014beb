// JSON API client: Bearer auth from localStorage, visible errors via the banner.
import { h } from './dom';

const KEY_STORAGE = 'souk.key';
const USER_STORAGE = 'souk.user';

export function getKey(): string | null {
  return localStorage.getItem(KEY_STORAGE);
}
export function setKey(k: string | null): void {
  if (k) localStorage.setItem(KEY_STORAGE, k);
  else localStorage.removeItem(KEY_STORAGE);
}
export function getUser(): string {
  return localStorage.getItem(USER_STORAGE) || 'U000042';
}
export function setUser(u: string): void {
  localStorage.setItem(USER_STORAGE, u);
}

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public path: string,
  ) {
    super(message);
  }
}

// ---- error banner -------------------------------------------------------
let bannerEl: HTMLElement | null = null;
export function mountBanner(el: HTMLElement): void {
  bannerEl = el;
}
export function showError(msg: string): void {
  if (!bannerEl) {
    console.warn(msg);
    return;
  }
  for (const existing of Array.from(bannerEl.children)) {
    if ((existing as HTMLElement).dataset.msg === msg) return; // dedupe
  }
  const row = h(
    'div',
    { class: 'banner-row', testid: 'error', dataset: { msg } },
    h('span', null, msg),
    h('button', { class: 'link', title: 'dismiss', onclick: () => row.remove() }, '×'),
  );
  bannerEl.appendChild(row);
  bannerEl.hidden = false;
}
export function clearErrors(): void {
  if (bannerEl) bannerEl.replaceChildren();
}

// ---- requests -----------------------------------------------------------
export interface ApiOptions {
  method?: string;
  body?: unknown;
  /** statuses the caller handles itself (no banner) */
  quietStatuses?: number[];
}

export async function api<T>(path: string, opts: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const key = getKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method: opts.method || 'GET', headers, body });
  } catch (e) {
    const msg = `${opts.method || 'GET'} ${path.split('?')[0]}: network error (${(e as Error).message})`;
    showError(msg);
    throw new ApiError(msg, 0, path);
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err =
      data && typeof data === 'object' && 'error' in data
        ? String((data as { error: unknown }).error)
        : text.slice(0, 200) || res.statusText;
    const e = new ApiError(err, res.status, path);
    if (!opts.quietStatuses?.includes(res.status)) {
      let msg = `${opts.method || 'GET'} ${path.split('?')[0]} → ${res.status}: ${err}`;
      if (res.status === 401 || res.status === 403) msg += ' (check the API key: use "key" in the top bar)';
      showError(msg);
    }
    throw e;
  }
  if (data === null && text) {
    const msg = `${path.split('?')[0]}: response is not JSON`;
    showError(msg);
    throw new ApiError(msg, res.status, path);
  }
  return data as T;
}

export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

// ---- shapes -------------------------------------------------------------
export interface ItemBrief {
  item_id: string;
  score?: number;
  title?: string;
  price?: number | null;
  brand?: string;
  category?: string;
}
export interface FacetValue {
  value: string;
  count: number;
}
export interface SearchResponse {
  query: string;
  found: number;
  took_ms: number;
  hits: ItemBrief[];
  facets?: Record<string, FacetValue[]>;
  request_id?: string;
}
export interface SuggestResponse {
  q: string;
  suggestions: { text: string; count: number }[];
}
export interface Item {
  item_id: string;
  title?: string;
  description?: string;
  brand?: string;
  category?: string;
  tags?: string[] | string;
  price?: number | null;
  stock?: number | null;
  attrs?: Record<string, unknown>;
}
export interface RecResponse {
  user?: string;
  item?: string;
  model?: string;
  history?: number;
  items: ItemBrief[];
  request_id?: string;
}

// ---- events ---------------------------------------------------------------
export type EventType = 'view' | 'click' | 'cart' | 'purchase';
export interface EventIn {
  item_id: string;
  event_type: EventType;
  request_id?: string;
  position?: number;
}
type Listener = () => void;
const eventListeners = new Set<Listener>();
export function onEventsPosted(fn: Listener): () => void {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}

export async function postEvent(ev: EventIn): Promise<void> {
  const row: Record<string, unknown> = {
    user_id: getUser(),
    item_id: ev.item_id,
    event_type: ev.event_type,
    timestamp: Date.now() / 1000,
  };
  if (ev.request_id) row.request_id = ev.request_id;
  if (typeof ev.position === 'number') row.position = ev.position;
  try {
    const r = await api<{ accepted: number; rejected: number; reasons?: Record<string, unknown> }>('/v1/events', {
      method: 'POST',
      body: [row],
    });
    if (r && r.rejected > 0) {
      showError(`event ${ev.event_type} ${ev.item_id} rejected: ${JSON.stringify(r.reasons || {})}`);
    }
  } catch {
    /* banner already shown */
  }
  for (const fn of eventListeners) fn();
}
