// mariadb-read: one row by random id from MariaDB (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/mariadb-read.php');
export function handleSummary(data) {
  return benchResult(data);
}
