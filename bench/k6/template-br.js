// template-br: the template page asked for with Accept-Encoding: br (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/template.php', { 'Accept-Encoding': 'br' });
export function handleSummary(data) {
  return benchResult(data);
}
