// sqlite-read: one row by random id from the 10,000-row SQLite file (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/sqlite-read.php');
export function handleSummary(data) {
  return benchResult(data);
}
