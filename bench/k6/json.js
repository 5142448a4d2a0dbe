// json: json_encode of a ten-key document (see bench/README.md).
import { benchResult, constantLoad, getPath } from './lib.js';

export const options = constantLoad();
export default getPath('/json.php');
export function handleSummary(data) {
  return benchResult(data);
}
