// Chart.js, tree-shaken; every chart lives in a container with a data-testid.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { h } from './dom';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);
Chart.defaults.animation = false;
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

export const PALETTE = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#ec4899', '#14b8a6', '#64748b'];
export const TYPE_COLORS: Record<string, string> = {
  view: '#93c5fd',
  click: '#2563eb',
  cart: '#f59e0b',
  purchase: '#10b981',
};

const live = new Set<Chart>();

/** Destroy every chart (called when the view is re-rendered). */
export function destroyCharts(): void {
  for (const c of live) c.destroy();
  live.clear();
}

/** A chart inside <div class="chart" data-testid=testid><canvas/></div>. */
export function chartBox(testid: string, config: ChartConfiguration, height = 260): HTMLElement {
  const canvas = h('canvas', null);
  const box = h('div', { class: 'chart', testid, style: `height:${height}px` }, canvas);
  // create once attached (Chart.js needs a sized parent)
  requestAnimationFrame(() => {
    if (!canvas.isConnected) return;
    const cfg = config as ChartConfiguration;
    cfg.options = { responsive: true, maintainAspectRatio: false, ...(cfg.options || {}) };
    const chart = new Chart(canvas, cfg);
    live.add(chart);
    canvas.dataset.chart = 'ready';
  });
  return box;
}

export { Chart };
