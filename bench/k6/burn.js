// burn: the ~20 ms CPU-bound request of cpu-mix (bench/run runs it with VUS=2) (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/burn.php');
export function handleSummary(data) {
  return benchResult(data);
}
