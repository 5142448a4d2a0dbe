// mariadb-write: one INSERT per request, a form POST (see bench/README.md).
import http from 'k6/http';
import { BASE_URL, benchResult, constantLoad } from './lib.js';

export const options = constantLoad();
export default function () {
  http.post(BASE_URL + '/mariadb-write.php', { payload: 'torus-benchmark-write' });
}
export function handleSummary(data) {
  return benchResult(data);
}
