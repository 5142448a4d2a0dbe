// https-new-conn: one request per new TLS 1.3 connection (see bench/README.md).
// BASE_URL is https://...; the certificate is the harness's self-signed one.
import http from 'k6/http';
import { BASE_URL, benchResult, constantLoad } from './lib.js';

export const options = Object.assign(constantLoad(), {
  noConnectionReuse: true, // a new TCP connection and TLS handshake per request
  tlsVersion: { min: http.TLS_1_3, max: http.TLS_1_3 },
});

const params = { headers: { Connection: 'close' } };

export default function () {
  http.get(BASE_URL + '/hello.php', params);
}

export function handleSummary(data) {
  return benchResult(data);
}
