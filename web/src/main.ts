import './style.css';
import { clearErrors, getKey, getUser, mountBanner, setKey, setUser } from './api';
import { h, clear } from './dom';
import { destroyCharts } from './charts';
import { SearchBox, forYou, renderItem, renderShop, updateShop, type ShopParams } from './shop';
import { renderAdmin } from './admin';

// ---- #key= handling (kept apart from the routes) --------------------------
function takeKeyFromHash(): void {
  const hash = location.hash;
  const m = hash.match(/(^#|[&?])key=([^&]*)/);
  if (!m) return;
  setKey(decodeURIComponent(m[2]));
  let rest = hash.replace(/([&?])key=[^&]*&?/, '$1').replace(/^#key=[^&]*&?/, '#').replace(/[&?]$/, '');
  if (rest === '#' || rest === '') rest = '#/shop';
  history.replaceState(null, '', location.pathname + location.search + rest);
}

// ---- layout -----------------------------------------------------------------
const app = document.getElementById('app')!;
const banner = h('div', { class: 'banner', testid: 'error-banner', role: 'alert' });
mountBanner(banner);
const view = h('main', { class: 'view', testid: 'view' });
const search = new SearchBox();

const userInput = h('input', {
  class: 'user-input',
  testid: 'user-input',
  value: getUser(),
  size: 9,
  title: 'user id for events and recommendations',
  spellcheck: 'false',
});
const applyUser = () => {
  const u = userInput.value.trim();
  if (u && u !== getUser()) {
    setUser(u);
    forYou.refresh();
  }
};
userInput.addEventListener('change', applyUser);
userInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') applyUser();
});

const navShop = h('a', { href: '#/shop', testid: 'nav-shop' }, 'Shop');
const navAdmin = h('a', { href: '#/admin', testid: 'nav-admin' }, 'Admin');
const header = h(
  'header',
  { class: 'top' },
  h('a', { class: 'logo', href: '#/shop' }, 'souk'),
  h('nav', null, navShop, navAdmin),
  search.el,
  h('label', { class: 'user' }, 'user ', userInput),
  h('button', { class: 'ghost', testid: 'key-button', onclick: () => showKeyForm(true) }, 'key'),
);
app.append(header, banner, view);

// ---- key form -----------------------------------------------------------
function showKeyForm(change = false): void {
  destroyCharts();
  const input = h('input', { testid: 'key-input', type: 'password', placeholder: 'souk_...', autocomplete: 'off', size: 40 });
  const form = h(
    'form',
    {
      class: 'card key-form',
      testid: 'key-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const k = input.value.trim();
        if (!k) return;
        setKey(k);
        clearErrors();
        route();
      },
    },
    h('h2', null, change ? 'Change API key' : 'API key needed'),
    h('p', { class: 'muted' }, 'Paste a key from ', h('code', null, 'souk keys create DIR --scope admin'), ' (or open the URL that ', h('code', null, 'souk demo'), ' prints).'),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', testid: 'key-submit' }, 'Use key')),
    change && getKey()
      ? h('p', null, h('button', { type: 'button', class: 'link', onclick: () => { setKey(null); showKeyForm(); } }, 'forget the stored key'))
      : null,
  );
  clear(view, form);
  input.focus();
}

// ---- routing ------------------------------------------------------------
let current = '';
function route(): void {
  takeKeyFromHash();
  if (!getKey()) {
    current = 'key';
    showKeyForm();
    return;
  }
  const raw = location.hash.replace(/^#/, '') || '/shop';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  navShop.classList.toggle('active', parts[0] !== 'admin');
  navAdmin.classList.toggle('active', parts[0] === 'admin');
  if (parts[0] === 'admin') {
    current = 'admin';
    document.querySelector('.toasts')?.remove();
    search.el.hidden = true;
    renderAdmin(view);
    return;
  }
  search.el.hidden = false;
  destroyCharts();
  if (parts[0] === 'item' && parts[1]) {
    current = 'item';
    renderItem(view, decodeURIComponent(parts.slice(1).join('/')));
    window.scrollTo(0, 0);
    return;
  }
  const sp: ShopParams = {
    q: params.get('q') || '',
    brand: params.getAll('brand'),
    category: params.getAll('category'),
    min: params.get('min') || '',
    max: params.get('max') || '',
    page: Math.max(1, parseInt(params.get('page') || '1', 10) || 1),
  };
  search.setValue(sp.q);
  if (current === 'shop') updateShop(sp);
  else renderShop(view, sp);
  current = 'shop';
}

window.addEventListener('hashchange', () => {
  clearErrors(); // errors belong to the page that caused them
  route();
});
route();
