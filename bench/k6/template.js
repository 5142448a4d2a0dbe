// template: an HTML table of 50 rows with htmlspecialchars (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/template.php');
export function handleSummary(data) {
  return benchResult(data);
}
