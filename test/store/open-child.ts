// Opens the store named on the command line in a separate process and reports
// the outcome as one JSON line: used to test locks and permissions across processes.
import { Store } from '../../src/store/store.js';
import { isAsteriskBanError } from '../../src/core/errors.js';

const path = process.argv[2]!;
try {
  const store = Store.open(path);
  process.stdout.write(`${JSON.stringify({ ok: true, bans: store.countBans() })}\n`);
  store.close();
} catch (err) {
  const out = isAsteriskBanError(err) ? { ok: false, code: err.code, message: err.message } : { ok: false, code: 'other', message: String(err) };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
