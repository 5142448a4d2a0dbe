// cpu-mix in one script, for running by hand: VUS connections on /hello.php,
// measured, while 2 more keep /burn.php (~20 ms of CPU each) busy; the
// result is hello's. bench/run --tool k6 runs hello.js and burn.js side by
// side instead, as it does with wrk.
import http from 'k6/http';
import { BASE_URL, DURATION, TREND_STATS, VUS, benchResult } from './lib.js';

const seconds = parseInt(DURATION, 10);

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: TREND_STATS,
  scenarios: {
    burn: { executor: 'constant-vus', exec: 'burn', vus: 2, duration: `${seconds + 2}s` },
    hello: { executor: 'constant-vus', exec: 'hello', vus: VUS, duration: `${seconds}s`, startTime: '1s' },
  },
  // A threshold makes k6 keep the sub-metric of the hello scenario alone.
  thresholds: {
    'http_req_duration{scenario:hello}': ['max>=0'],
    'http_reqs{scenario:hello}': ['count>=0'],
    'http_req_failed{scenario:hello}': ['rate>=0'],
  },
};

export function hello() {
  http.get(BASE_URL + '/hello.php');
}

export function burn() {
  http.get(BASE_URL + '/burn.php');
}

export function handleSummary(data) {
  return benchResult(data, '{scenario:hello}', seconds * 1000);
}
