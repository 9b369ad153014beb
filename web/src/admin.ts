// Admin dashboard: overview, data quality, evaluation, training runs, bandit campaigns.
import { api, ApiError } from './api';
import { chartBox, destroyCharts, PALETTE, TYPE_COLORS } from './charts';
import { clear, fmtNum, h } from './dom';

interface Overview {
  counts?: Record<string, number>;
  model_version?: number;
  models?: Record<string, string>;
  requests?: number;
}
interface QualityRule {
  rule: string;
  table: string;
  column?: string;
  description?: string;
  count: number;
  checked: number;
  score: number;
  examples?: unknown[];
}
interface Quality {
  score?: number;
  counts?: Record<string, number>;
  rules?: QualityRule[];
  days?: { date: string; total: number; by_type?: Record<string, number> }[];
}
interface EvalResp {
  split?: string;
  protocol?: string;
  rows?: Record<string, unknown>[];
}
interface Runs {
  runs: { run: string; model?: string; epochs: Record<string, number>[] }[];
}
interface CampaignList {
  campaigns: { name: string; policy?: string; arms?: string[]; decisions?: number; rewarded?: number }[];
}
interface Campaign {
  name: string;
  policy?: string;
  arms: { arm: string; pulls: number; reward?: number; mean?: number; estimate?: number; width?: number; probability?: number }[];
  history?: { t_ms: number; decisions?: number; probabilities: number[] }[];
}

function section(testid: string, title: string, ...extra: HTMLElement[]): { el: HTMLElement; body: HTMLElement } {
  const body = h('div', { class: 'section-body' }, h('p', { class: 'muted' }, 'loading…'));
  const el = h('section', { class: 'panel', testid }, h('div', { class: 'panel-head' }, h('h2', null, title), ...extra), body);
  return { el, body };
}

function failed(body: HTMLElement, e: unknown): void {
  clear(body, h('p', { class: 'error-text', testid: 'section-error' }, (e as Error).message));
}

function exampleCell(examples?: unknown[]): HTMLElement {
  if (!examples || !examples.length) return h('td', { class: 'example' });
  const full = typeof examples[0] === 'string' ? examples[0] : JSON.stringify(examples[0]);
  const short = full.length > 160 ? full.slice(0, 157) + '…' : full;
  return h('td', { class: 'example', title: examples.slice(0, 5).map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') }, short);
}

/** Axis labels for timestamps: seconds from the start for short spans, else times or dates. */
function timeLabels(ts: number[]): string[] {
  if (!ts.length) return [];
  const span = ts[ts.length - 1] - ts[0];
  if (span < 120000) return ts.map((t) => `+${((t - ts[0]) / 1000).toFixed(1)} s`);
  if (span < 86400000) return ts.map((t) => new Date(t).toLocaleTimeString());
  return ts.map((t) => new Date(t).toLocaleString());
}

function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export function renderAdmin(view: HTMLElement): void {
  destroyCharts();
  const overview = section('admin-overview', 'Overview');
  const quality = section('admin-quality', 'Data quality');
  const evals = section('admin-eval', 'Model evaluation');
  const runs = section('admin-runs', 'Training curves');
  const camps = section('admin-campaigns', 'Bandit campaigns');
  const refresh = h('button', { class: 'ghost', testid: 'admin-refresh', onclick: () => renderAdmin(view) }, 'refresh');
  clear(view, h('div', { class: 'admin-head' }, h('h1', null, 'Admin'), refresh), overview.el, quality.el, evals.el, runs.el, camps.el);
  void loadOverview(overview.body);
  void loadQuality(quality.body);
  void loadEval(evals.body);
  void loadRuns(runs.body);
  void loadCampaigns(camps.body);
}

async function loadOverview(body: HTMLElement): Promise<void> {
  try {
    const o = await api<Overview>('/v1/admin/overview');
    const cards: HTMLElement[] = [];
    const stat = (label: string, value: unknown, testid?: string) =>
      cards.push(h('div', { class: 'stat', testid: testid || `stat-${safeId(label)}` }, h('div', { class: 'stat-value' }, fmtNum(value)), h('div', { class: 'stat-label muted' }, label)));
    for (const [k, v] of Object.entries(o.counts || {})) stat(k, v);
    if (o.model_version !== undefined) stat('model version', o.model_version, 'stat-model_version');
    if (o.requests !== undefined) stat('requests', o.requests, 'stat-requests');
    const models = Object.entries(o.models || {});
    clear(
      body,
      h('div', { class: 'stats' }, cards),
      models.length ? h('div', { class: 'models' }, models.map(([k, v]) => h('span', { class: 'pill' }, `${k.replace(/_/g, ' ')}: `, h('b', null, v)))) : null,
    );
  } catch (e) {
    failed(body, e);
  }
}

async function loadQuality(body: HTMLElement): Promise<void> {
  try {
    const q = await api<Quality>('/v1/admin/quality');
    const rules = q.rules || [];
    const table = h(
      'table',
      { class: 'data', testid: 'quality-table' },
      h('thead', null, h('tr', null, ['rule', 'table', 'found / checked', 'score', 'first example'].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        rules.map((r) =>
          h(
            'tr',
            { testid: 'quality-row', class: r.count > 0 ? 'warn' : '' },
            h('td', { title: r.description || '' }, h('b', null, r.rule), r.description ? h('div', { class: 'muted small' }, r.description) : null),
            h('td', null, r.table + (r.column ? `.${r.column}` : '')),
            h('td', { class: 'num' }, `${fmtNum(r.count)} / ${fmtNum(r.checked)}`),
            h('td', { class: 'num' }, fmtNum(r.score, 3)),
            exampleCell(r.examples),
          ),
        ),
      ),
    );
    let days = q.days || [];
    const firstDay = days.findIndex((d) => d.total > 0);
    const lastDay = days.length - 1 - [...days].reverse().findIndex((d) => d.total > 0);
    if (firstDay >= 0) days = days.slice(firstDay, lastDay + 1);
    const types = Array.from(new Set(days.flatMap((d) => Object.keys(d.by_type || {}))));
    const ordered = ['view', 'click', 'cart', 'purchase'].filter((t) => types.includes(t)).concat(types.filter((t) => !TYPE_COLORS[t]));
    const chart = days.length
      ? chartBox('chart-events-per-day', {
          type: 'bar',
          data: {
            labels: days.map((d) => d.date),
            datasets: ordered.length
              ? ordered.map((t, i) => ({ label: t, data: days.map((d) => d.by_type?.[t] ?? 0), backgroundColor: TYPE_COLORS[t] || PALETTE[i % PALETTE.length], stack: 'events' }))
              : [{ label: 'events', data: days.map((d) => d.total), backgroundColor: PALETTE[0] }],
          },
          options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'events' } } } },
        })
      : h('p', { class: 'muted' }, 'no events per day');
    clear(
      body,
      h('p', null, 'score ', h('b', { testid: 'quality-score' }, fmtNum(q.score, 3)), q.counts ? h('span', { class: 'muted' }, ' · ' + Object.entries(q.counts).map(([k, v]) => `${k} ${fmtNum(v)}`).join(' · ')) : null),
      h('h3', null, 'Events per day'),
      chart,
      h('h3', null, 'Findings'),
      h('div', { class: 'scroll-x' }, rules.length ? table : h('p', { class: 'muted' }, 'no findings')),
    );
  } catch (e) {
    failed(body, e);
  }
}

async function loadEval(body: HTMLElement): Promise<void> {
  try {
    const r = await api<EvalResp>('/v1/admin/eval', { quietStatuses: [404] });
    const rows = r.rows || [];
    if (!rows.length) {
      clear(body, h('p', { class: 'muted', testid: 'eval-empty' }, 'no evaluation rows'));
      return;
    }
    const cols: string[] = [];
    for (const row of rows) for (const [k, v] of Object.entries(row)) if (typeof v === 'number' && !cols.includes(k)) cols.push(k);
    // higher is better except for time-like columns
    const lowerBetter = (c: string) => /seconds|_ms$|time|loss/i.test(c);
    const best: Record<string, number> = {};
    for (const c of cols) {
      const vals = rows.map((x) => x[c]).filter((v): v is number => typeof v === 'number');
      if (vals.length > 1 && Math.min(...vals) !== Math.max(...vals)) best[c] = lowerBetter(c) ? Math.min(...vals) : Math.max(...vals);
    }
    const label = (row: Record<string, unknown>) => String(row.model ?? row.name ?? '');
    clear(
      body,
      h('p', { class: 'muted' }, `split ${r.split ?? '?'} · protocol ${r.protocol ?? '?'} · best per column highlighted`),
      h(
        'div',
        { class: 'scroll-x' },
        h(
          'table',
          { class: 'data', testid: 'eval-table' },
          h('thead', null, h('tr', null, h('th', null, 'model'), cols.map((c) => h('th', { class: 'num' }, c)))),
          h(
            'tbody',
            null,
            rows.map((row) =>
              h(
                'tr',
                { testid: 'eval-row' },
                h('td', null, h('b', null, label(row))),
                cols.map((c) => h('td', { class: 'num' + (row[c] === best[c] && rows.length > 1 ? ' best' : '') }, fmtNum(row[c]))),
              ),
            ),
          ),
        ),
      ),
    );
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) clear(body, h('p', { class: 'notice', testid: 'eval-missing' }, e.message));
    else failed(body, e);
  }
}

async function loadRuns(body: HTMLElement): Promise<void> {
  try {
    const r = await api<Runs>('/v1/admin/runs');
    const runs = r.runs || [];
    if (!runs.length) {
      clear(body, h('p', { class: 'muted', testid: 'runs-empty' }, 'no training runs'));
      return;
    }
    clear(
      body,
      h(
        'div',
        { class: 'chart-grid' },
        runs.map((run) => {
          const ep = run.epochs || [];
          const hasVal = ep.some((e) => typeof e.val_ndcg10 === 'number');
          const datasets: Record<string, unknown>[] = [
            { label: 'loss', data: ep.map((e) => e.loss ?? null), borderColor: PALETTE[0], backgroundColor: PALETTE[0], yAxisID: 'y', tension: 0.2 },
          ];
          if (hasVal) datasets.push({ label: 'val NDCG@10', data: ep.map((e) => e.val_ndcg10 ?? null), borderColor: PALETTE[2], backgroundColor: PALETTE[2], yAxisID: 'y1', tension: 0.2 });
          return h(
            'div',
            { class: 'run' },
            h('h3', null, run.run, h('span', { class: 'muted small' }, ` ${run.model || ''} · ${ep.length} epochs`)),
            chartBox(`chart-training-${safeId(run.run)}`, {
              type: 'line',
              data: { labels: ep.map((e) => String(e.epoch)), datasets: datasets as never },
              options: {
                scales: {
                  x: { title: { display: true, text: 'epoch' } },
                  y: { position: 'left', title: { display: true, text: 'loss' } },
                  ...(hasVal ? { y1: { position: 'right' as const, grid: { drawOnChartArea: false }, title: { display: true, text: 'val NDCG@10' } } } : {}),
                },
              },
            }, 220),
          );
        }),
      ),
    );
  } catch (e) {
    failed(body, e);
  }
}

async function loadCampaigns(body: HTMLElement): Promise<void> {
  try {
    const list = await api<CampaignList>('/v1/campaigns');
    const cs = list.campaigns || [];
    if (!cs.length) {
      clear(body, h('p', { class: 'muted', testid: 'campaigns-empty' }, 'no campaigns'));
      return;
    }
    clear(body);
    for (const c of cs) {
      const box = h('div', { class: 'campaign', testid: `campaign-${safeId(c.name)}` },
        h('h3', null, c.name, h('span', { class: 'muted small' }, ` ${c.policy || ''} · ${fmtNum(c.decisions ?? 0)} decisions · ${fmtNum(c.rewarded ?? 0)} rewarded`)),
        h('p', { class: 'muted' }, 'loading…'));
      body.appendChild(box);
      void loadCampaign(c.name, box);
    }
  } catch (e) {
    failed(body, e);
  }
}

async function loadCampaign(name: string, box: HTMLElement): Promise<void> {
  const head = box.firstElementChild as HTMLElement;
  try {
    const c = await api<Campaign>(`/v1/campaigns/${encodeURIComponent(name)}`);
    const arms = c.arms || [];
    const hist = c.history || [];
    const hasEstimate = arms.some((a) => typeof a.estimate === 'number');
    const table = h(
      'table',
      { class: 'data', testid: `arms-${safeId(name)}` },
      h('thead', null, h('tr', null, ['arm', 'pulls', 'reward', 'mean reward', hasEstimate ? 'estimate' : null, 'probability'].filter(Boolean).map((x) => h('th', { class: x === 'arm' ? '' : 'num' }, x)))),
      h('tbody', null, arms.map((a, i) => h('tr', { testid: 'arm-row' },
        h('td', null, h('span', { class: 'swatch', style: `background:${PALETTE[i % PALETTE.length]}` }), a.arm),
        h('td', { class: 'num' }, fmtNum(a.pulls)),
        h('td', { class: 'num' }, fmtNum(a.reward, 2)),
        h('td', { class: 'num' }, typeof a.mean === 'number' ? a.mean.toFixed(4) : '—'),
        hasEstimate ? h('td', { class: 'num', title: 'policy estimate ± width' }, typeof a.estimate === 'number' ? a.estimate.toFixed(4) + (typeof a.width === 'number' ? ` ± ${a.width.toFixed(3)}` : '') : '—') : null,
        h('td', { class: 'num' }, a.probability === undefined ? '—' : `${(a.probability * 100).toFixed(1)}%`),
      ))),
    );
    const chart = hist.length
      ? chartBox(`chart-arms-${safeId(name)}`, {
          type: 'line',
          data: {
            labels: timeLabels(hist.map((p) => p.t_ms)),
            datasets: arms.map((a, i) => ({
              label: a.arm,
              data: hist.map((p) => p.probabilities[i] ?? null),
              borderColor: PALETTE[i % PALETTE.length],
              backgroundColor: PALETTE[i % PALETTE.length],
              pointRadius: hist.length > 40 ? 0 : 2,
              tension: 0.2,
            })),
          },
          options: { scales: { y: { min: 0, max: 1, title: { display: true, text: 'probability' } } } },
        }, 240)
      : h('p', { class: 'muted' }, 'no decisions yet (no probability history)');
    clear(box, head, h('div', { class: 'two-col' }, h('div', { class: 'scroll-x' }, table), h('div', null, h('h3', null, 'Probability over time'), chart)));
  } catch (e) {
    clear(box, head, h('p', { class: 'error-text' }, (e as Error).message));
  }
}
