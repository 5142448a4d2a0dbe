// template-zstd: the template page asked for with Accept-Encoding: zstd (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/template.php', { 'Accept-Encoding': 'zstd' });
export function handleSummary(data) {
  return benchResult(data);
}
