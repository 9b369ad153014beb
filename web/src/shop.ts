// Shop front: search box with suggestions, facets, results, product page, rows.
import {
  api,
  getUser,
  onEventsPosted,
  postEvent,
  qs,
  type FacetValue,
  type Item,
  type ItemBrief,
  type RecResponse,
  type SearchResponse,
  type SuggestResponse,
} from './api';
import { clear, debounce, fmtPrice, h } from './dom';
import { buildFilter } from './filter';

const PER_PAGE = 24;

// Where an item was shown (request_id, slot) so the view/click events carry it.
const shownIn = new Map<string, { request_id?: string; position?: number }>();

function openItem(it: ItemBrief, request_id: string | undefined, position: number): void {
  shownIn.set(it.item_id, { request_id, position });
  void postEvent({ item_id: it.item_id, event_type: 'click', request_id, position });
  location.hash = `#/item/${encodeURIComponent(it.item_id)}`;
}

function shortModel(m?: string): string {
  return (m || '?').split(':')[0];
}

// ---- search box with autocomplete -----------------------------------------
export class SearchBox {
  el: HTMLFormElement;
  private input: HTMLInputElement;
  private list: HTMLUListElement;
  private seq = 0;
  private active = -1;

  constructor() {
    this.input = h('input', {
      type: 'search',
      testid: 'search-input',
      placeholder: 'Search products…',
      autocomplete: 'off',
      'aria-label': 'search',
    });
    this.list = h('ul', { class: 'suggestions', testid: 'suggestions', role: 'listbox', hidden: true });
    this.el = h(
      'form',
      { class: 'search', role: 'search', onsubmit: (e: Event) => { e.preventDefault(); this.go(this.input.value); } },
      h('div', { class: 'search-wrap' }, this.input, this.list),
      h('button', { type: 'submit', testid: 'search-button' }, 'Search'),
    );
    const fetchSuggest = debounce((v: string) => void this.suggest(v), 150);
    this.input.addEventListener('input', () => {
      const v = this.input.value;
      if (v.trim()) fetchSuggest(v);
      else this.close();
    });
    this.input.addEventListener('keydown', (e) => this.key(e));
    this.input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  setValue(q: string): void {
    if (document.activeElement !== this.input) this.input.value = q;
  }

  private go(q: string): void {
    this.close();
    this.seq++; // drop suggestions still in flight
    this.input.value = q;
    const target = `#/shop${qs({ q: q.trim() })}`;
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = target;
  }

  private close(): void {
    this.list.hidden = true;
    this.active = -1;
  }

  private key(e: KeyboardEvent): void {
    const items = Array.from(this.list.children) as HTMLElement[];
    if (this.list.hidden || !items.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      items.forEach((li, i) => li.classList.toggle('active', i === this.active));
    } else if (e.key === 'Enter' && this.active >= 0) {
      e.preventDefault();
      this.go(items[this.active].dataset.text || '');
    } else if (e.key === 'Escape') this.close();
  }

  private async suggest(prefix: string): Promise<void> {
    const seq = ++this.seq;
    let r: SuggestResponse;
    try {
      r = await api<SuggestResponse>(`/v1/suggest${qs({ q: prefix, k: 8 })}`);
    } catch {
      return;
    }
    if (seq !== this.seq || this.input.value !== prefix) return;
    const sugg = r.suggestions || [];
    clear(
      this.list,
      sugg.map((s) =>
        h(
          'li',
          {
            testid: 'suggestion',
            role: 'option',
            dataset: { text: s.text },
            onmousedown: (e: Event) => { e.preventDefault(); this.go(s.text); },
          },
          h('span', null, s.text),
          s.count ? h('span', { class: 'muted' }, String(s.count)) : null,
        ),
      ),
    );
    this.active = -1;
    this.list.hidden = sugg.length === 0 || document.activeElement !== this.input;
  }
}

// ---- cards and rows ----------------------------------------------------------
function card(it: ItemBrief, testid: string, request_id: string | undefined, position: number): HTMLElement {
  return h(
    'a',
    {
      class: 'product',
      href: `#/item/${encodeURIComponent(it.item_id)}`,
      testid,
      dataset: { itemId: it.item_id, brand: it.brand ?? '', category: it.category ?? '', position },
      onclick: (e: Event) => { e.preventDefault(); openItem(it, request_id, position); },
    },
    h('div', { class: 'thumb', 'aria-hidden': 'true' }, (it.title || it.item_id).slice(0, 1).toUpperCase()),
    h('div', { class: 'title' }, it.title || it.item_id),
    h('div', { class: 'meta' }, it.brand ? h('span', { class: 'brand' }, it.brand) : null),
    h('div', { class: 'price' }, it.price === undefined ? '' : fmtPrice(it.price)),
    it.category ? h('div', { class: 'cat muted' }, it.category) : null,
  );
}

function row(items: ItemBrief[], cardTestid: string, request_id?: string): HTMLElement {
  if (!items.length) return h('p', { class: 'muted' }, 'nothing yet');
  return h('div', { class: 'row-scroll' }, items.map((it, i) => card(it, cardTestid, request_id, i)));
}

// ---- "for you" (one instance; moved between pages) -------------------------
class ForYou {
  el: HTMLElement;
  private body: HTMLElement;
  private meta: HTMLElement;
  private seq = 0;
  private last: string[] = [];

  constructor() {
    this.meta = h('span', { class: 'muted', testid: 'for-you-meta' });
    this.body = h('div', { class: 'for-you-body' }, h('p', { class: 'muted' }, 'loading…'));
    this.el = h(
      'section',
      { class: 'panel', testid: 'for-you' },
      h('div', { class: 'panel-head' }, h('h2', null, 'For you'), this.meta),
      this.body,
    );
    onEventsPosted(() => this.refresh());
  }

  async refresh(): Promise<void> {
    const seq = ++this.seq;
    const user = getUser();
    let r: RecResponse;
    try {
      r = await api<RecResponse>(`/v1/recommend/${encodeURIComponent(user)}${qs({ k: 12 })}`);
    } catch (e) {
      if (seq === this.seq) clear(this.body, h('p', { class: 'error-text' }, (e as Error).message));
      return;
    }
    if (seq !== this.seq) return;
    const ids = r.items.map((x) => x.item_id);
    const prev = new Set(this.last);
    this.last = ids;
    this.el.dataset.items = ids.join(',');
    clear(
      this.meta,
      `${r.user ?? user} · model `,
      h('b', { testid: 'for-you-model', title: r.model || '' }, shortModel(r.model)),
      ' · history ',
      h('b', { testid: 'for-you-history' }, String(r.history ?? 0)),
    );
    const rowEl = row(r.items, 'for-you-card', r.request_id);
    if (prev.size) {
      rowEl.querySelectorAll<HTMLElement>('[data-item-id]').forEach((c) => {
        if (!prev.has(c.dataset.itemId || '')) c.classList.add('fresh');
      });
    }
    clear(this.body, rowEl);
  }
}
export const forYou = new ForYou();

// ---- shop (search results) ------------------------------------------------------
export interface ShopParams {
  q: string;
  brand: string[];
  category: string[];
  min: string;
  max: string;
  page: number;
}

let shopRoot: HTMLElement | null = null;
let shopSeq = 0;

function shopHash(p: ShopParams): string {
  const u = new URLSearchParams();
  if (p.q) u.set('q', p.q);
  p.brand.forEach((b) => u.append('brand', b));
  p.category.forEach((c) => u.append('category', c));
  if (p.min) u.set('min', p.min);
  if (p.max) u.set('max', p.max);
  if (p.page > 1) u.set('page', String(p.page));
  const s = u.toString();
  return `#/shop${s ? '?' + s : ''}`;
}

export function renderShop(view: HTMLElement, p: ShopParams): void {
  shopRoot = h('div', { class: 'shop' });
  clear(view, forYou.el, shopRoot);
  void forYou.refresh();
  updateShop(p);
}

export function updateShop(p: ShopParams): void {
  if (!shopRoot || !shopRoot.isConnected) return;
  const root = shopRoot;
  const seq = ++shopSeq;
  const filter = buildFilter({
    facets: { brand: p.brand, category: p.category },
    min: p.min ? Number(p.min) : undefined,
    max: p.max ? Number(p.max) : undefined,
  });
  const minIn = h('input', { type: 'number', min: 0, step: 'any', placeholder: 'min', testid: 'price-min', value: p.min });
  const maxIn = h('input', { type: 'number', min: 0, step: 'any', placeholder: 'max', testid: 'price-max', value: p.max });
  const priceForm = h(
    'form',
    {
      class: 'price-form',
      testid: 'price-filter',
      onsubmit: (e: Event) => {
        e.preventDefault();
        location.hash = shopHash({ ...p, min: minIn.value.trim(), max: maxIn.value.trim(), page: 1 });
      },
    },
    h('h3', null, 'Price'),
    h('div', { class: 'row' }, minIn, '–', maxIn, h('button', { type: 'submit', testid: 'price-apply' }, 'Apply')),
  );
  const facetsEl = h('div', { class: 'facet-lists' });
  const aside = h('aside', { class: 'facets' }, priceForm, facetsEl);
  const status = h('div', { class: 'status muted', testid: 'result-count' });
  const grid = h('div', { class: 'grid', testid: 'results' });
  const pager = h('div', { class: 'pager', testid: 'pagination' });
  const main = h('section', { class: 'results' }, status, grid, pager);
  clear(root, h('div', { class: 'shop-layout' }, aside, main));

  if (!p.q && !filter) {
    clear(root, h('p', { class: 'panel muted', testid: 'result-count' }, 'Type in the search box to find products (suggestions appear as you type).'));
    return;
  }
  clear(status, 'searching…');
  const url = `/v1/search${qs({ q: p.q, filter, facets: 'brand,category', page: p.page, per_page: PER_PAGE, user: getUser() })}`;
  // For a field with a selection, its values come from the search without that field's own
  // clauses (so other values can still be added: brand A OR brand B).
  const otherFacets = (field: 'brand' | 'category'): Promise<FacetValue[] | null> => {
    if (!p[field].length) return Promise.resolve(null);
    const f = buildFilter({
      facets: field === 'brand' ? { category: p.category } : { brand: p.brand },
      min: p.min ? Number(p.min) : undefined,
      max: p.max ? Number(p.max) : undefined,
    });
    if (!p.q && !f) return Promise.resolve(null);
    return api<SearchResponse>(`/v1/search${qs({ q: p.q, filter: f, facets: field, per_page: 1 })}`)
      .then((r) => r.facets?.[field] || null)
      .catch(() => null);
  };
  Promise.all([api<SearchResponse>(url), otherFacets('brand'), otherFacets('category')])
    .then(([r, brandAll, categoryAll]) => {
      const wider: Record<string, FacetValue[] | null> = { brand: brandAll, category: categoryAll };
      if (seq !== shopSeq) return;
      status.dataset.found = String(r.found);
      clear(
        status,
        h('b', null, r.found.toLocaleString()),
        ` result${r.found === 1 ? '' : 's'}`,
        p.q ? [' for ', h('q', null, p.q)] : null,
        filter ? [' · ', h('code', { testid: 'active-filter' }, filter)] : null,
        ` · ${r.took_ms} ms`,
      );
      clear(grid, r.hits.length ? r.hits.map((it, i) => card(it, 'result-card', r.request_id, (p.page - 1) * PER_PAGE + i)) : h('p', { class: 'muted' }, 'No results.'));
      // facets
      const lists = (['brand', 'category'] as const).map((field) => {
        const selected = p[field];
        const values = [...(wider[field] || r.facets?.[field] || [])];
        for (const s of selected) if (!values.some((v) => v.value === s)) values.unshift({ value: s, count: 0 });
        if (!values.length) return null;
        return h(
          'div',
          { class: 'facet', testid: `facet-${field}` },
          h('h3', null, field),
          values.map((v) => {
            const on = selected.includes(v.value);
            const toggle = () => {
              const next = on ? selected.filter((x) => x !== v.value) : [...selected, v.value];
              location.hash = shopHash({ ...p, [field]: next, page: 1 });
            };
            return h(
              'label',
              { class: 'facet-value' },
              h('input', { type: 'checkbox', checked: on, dataset: { value: v.value }, onchange: toggle }),
              h('span', { class: 'fv' }, v.value),
              h('span', { class: 'muted' }, v.count ? String(v.count) : ''),
            );
          }),
        );
      });
      clear(facetsEl, lists);
      // pagination
      const pages = Math.max(1, Math.ceil(r.found / PER_PAGE));
      if (pages > 1) {
        clear(
          pager,
          h('button', { testid: 'page-prev', disabled: p.page <= 1, onclick: () => (location.hash = shopHash({ ...p, page: p.page - 1 })) }, '‹ prev'),
          h('span', { testid: 'page-info' }, `page ${p.page} of ${pages}`),
          h('button', { testid: 'page-next', disabled: p.page >= pages, onclick: () => (location.hash = shopHash({ ...p, page: p.page + 1 })) }, 'next ›'),
        );
      }
    })
    .catch((e: Error) => {
      if (seq !== shopSeq) return;
      clear(status, h('span', { class: 'error-text' }, e.message));
    });
}

// ---- product page ---------------------------------------------------------------
const SESSION_KEY = 'souk.session';
function sessionItems(): string[] {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || '[]');
  } catch {
    return [];
  }
}
function rememberViewed(id: string): string[] {
  const items = [id, ...sessionItems().filter((x) => x !== id)].slice(0, 10);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(items));
  return items;
}

let toasts: HTMLElement | null = null;
function toast(msg: string): void {
  if (!toasts || !toasts.isConnected) {
    toasts = h('div', { class: 'toasts' });
    document.body.appendChild(toasts);
  }
  const t = h('div', { class: 'toast', testid: 'toast' }, msg);
  toasts.appendChild(t);
  setTimeout(() => t.remove(), 1800);
}

export function renderItem(view: HTMLElement, id: string): void {
  shopRoot = null;
  const detail = h('section', { class: 'panel item-detail', testid: 'item-detail' }, h('p', { class: 'muted' }, 'loading…'));
  const similar = h('section', { class: 'panel', testid: 'similar' }, h('div', { class: 'panel-head' }, h('h2', null, 'Similar items')), h('p', { class: 'muted' }, 'loading…'));
  const session = h('section', { class: 'panel', testid: 'session-recs' });
  clear(view, h('p', null, h('a', { href: 'javascript:history.back()', class: 'back' }, '‹ back')), detail, similar, forYou.el, session);

  const ctx = shownIn.get(id) || {};
  api<Item>(`/v1/items/${encodeURIComponent(id)}`)
    .then((it) => {
      if (!detail.isConnected) return;
      // a product page view is an event (it also refreshes "for you")
      void postEvent({ item_id: id, event_type: 'view', ...ctx });
      loadSession(rememberViewed(id));
      const tags = Array.isArray(it.tags) ? it.tags : it.tags ? String(it.tags).split(/[|,]/) : [];
      const attrs = Object.entries(it.attrs || {});
      const act = (type: 'cart' | 'purchase', label: string) => () => {
        void postEvent({ item_id: id, event_type: type, ...shownIn.get(id) }).then(() => toast(label));
      };
      clear(
        detail,
        h('div', { class: 'crumbs muted', testid: 'item-category' }, it.category || ''),
        h('h1', { testid: 'item-title' }, it.title || it.item_id),
        h('div', { class: 'item-meta' },
          it.brand ? h('span', { class: 'brand', testid: 'item-brand' }, it.brand) : null,
          h('span', { class: 'price big', testid: 'item-price' }, fmtPrice(it.price)),
          h('span', { class: 'muted' }, it.stock === null || it.stock === undefined ? '' : `${it.stock} in stock`),
          h('code', { class: 'muted' }, it.item_id),
        ),
        it.description ? h('p', { class: 'desc' }, it.description) : null,
        tags.length ? h('div', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag' }, t))) : null,
        attrs.length
          ? h('table', { class: 'attrs' }, h('tbody', null, attrs.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, typeof v === 'object' ? JSON.stringify(v) : String(v))))))
          : null,
        h('div', { class: 'actions' },
          h('button', { testid: 'add-to-cart', onclick: act('cart', 'added to cart') }, 'Add to cart'),
          h('button', { class: 'primary', testid: 'buy', onclick: act('purchase', 'purchased') }, 'Buy'),
        ),
      );
    })
    .catch((e: Error & { status?: number }) => {
      if (!detail.isConnected) return;
      clear(detail, h('h1', null, id), h('p', { class: 'error-text', testid: 'item-error' }, e.status === 404 ? `No such item (${e.message})` : e.message));
    });


  api<RecResponse>(`/v1/similar/${encodeURIComponent(id)}${qs({ k: 8 })}`)
    .then((r) => {
      if (!similar.isConnected) return;
      clear(similar, h('div', { class: 'panel-head' }, h('h2', null, 'Similar items'), h('span', { class: 'muted' }, `model `, h('b', { title: r.model || '' }, shortModel(r.model)))), row(r.items, 'similar-card', r.request_id));
    })
    .catch((e: Error) => {
      if (similar.isConnected) clear(similar, h('h2', null, 'Similar items'), h('p', { class: 'error-text' }, e.message));
    });

  const loadSession = (viewed: string[]) => {
    if (!session.isConnected) return;
    api<RecResponse>('/v1/recommend/session', { method: 'POST', body: { items: viewed, k: 8 } })
      .then((r) => {
        if (!session.isConnected) return;
        clear(session, h('div', { class: 'panel-head' }, h('h2', null, 'Based on this session'), h('span', { class: 'muted' }, `${viewed.length} viewed · model `, h('b', { title: r.model || '' }, shortModel(r.model)))), row(r.items, 'session-card', r.request_id));
      })
      .catch((e: Error) => clear(session, h('h2', null, 'Based on this session'), h('p', { class: 'error-text' }, e.message)));
  };
}
