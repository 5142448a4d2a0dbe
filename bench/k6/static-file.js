// static-file: the 2 KiB static file (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/static/page.html');
export function handleSummary(data) {
  return benchResult(data);
}
