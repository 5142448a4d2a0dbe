// hello: 13 bytes of text (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/hello.php');
export function handleSummary(data) {
  return benchResult(data);
}
