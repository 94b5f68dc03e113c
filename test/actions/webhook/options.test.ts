import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseWebhookOptions } from '../../../src/actions/webhook/options.js';
import { createAction, validateInvocation, actionNames } from '../../../src/actions/registry.js';
import { AsteriskBanError } from '../../../src/core/errors.js';
import { deps, invocation, SECRET, TOKEN_PATH } from './support.js';

const URL_OK = `https://hooks.example.org${TOKEN_PATH}?key=querytoken123`;

function parse(params: Record<string, string>, env: Record<string, string> = {}) {
  return parseWebhookOptions(invocation(params), deps(env));
}

function configFailure(params: Record<string, string>, env: Record<string, string> = {}): AsteriskBanError {
  try {
    parse(params, env);
  } catch (err) {
    assert.ok(err instanceof AsteriskBanError, String(err));
    return err;
  }
  assert.fail(`expected a configuration error for ${JSON.stringify(params)}`);
}

describe('webhook parameters', () => {
  it('defaults: json, bans and alerts, unbans told, 60 s digest, 10 s timeout, 4 attempts, the jail name', () => {
    const { options, endpoint } = parse({ url: URL_OK });
    assert.deepEqual(
      { ...options, events: [...options.events] },
      {
        name: 'asterisk',
        format: 'json',
        events: ['bans', 'alerts'],
        notifyUnban: true,
        digestMs: 60_000,
        timeoutMs: 10_000,
        maxAttempts: 4,
        signed: false,
        describe: 'https://hooks.example.org',
      },
    );
    assert.equal(endpoint.url.href, URL_OK);
    assert.equal(endpoint.secret, null);
    assert.equal(JSON.stringify(options).includes('tokenXyZ'), false, 'the shown options hold no token');
  });

  it('reads every parameter', () => {
    const { options, endpoint } = parse(
      { url: 'env:HOOK_URL', format: 'Slack', secret: 'env:WEBHOOK_SECRET', events: 'alerts', notify_unban: 'no', digest: '5m', timeout: '2.5', retries: '7', name: 'PBX one' },
      { HOOK_URL: URL_OK, WEBHOOK_SECRET: SECRET },
    );
    assert.equal(options.format, 'slack');
    assert.deepEqual([...options.events], ['alerts']);
    assert.equal(options.notifyUnban, false);
    assert.equal(options.digestMs, 300_000);
    assert.equal(options.timeoutMs, 2_500);
    assert.equal(options.maxAttempts, 7);
    assert.equal(options.name, 'PBX one');
    assert.equal(options.signed, true);
    assert.equal(endpoint.secret, SECRET);
    assert.equal(endpoint.url.href, URL_OK);
  });

  it('events may be separated by spaces or commas', () => {
    assert.deepEqual([...parse({ url: URL_OK, events: 'bans, alerts' }).options.events], ['bans', 'alerts']);
    assert.deepEqual([...parse({ url: URL_OK, events: 'bans' }).options.events], ['bans']);
  });

  it('user:password in the URL becomes a Basic Authorization header, out of the URL', () => {
    const { endpoint, options } = parse({ url: 'https://robot:s3cr%40t@ntfy.example.org/alerts-topic' });
    assert.equal(endpoint.url.href, 'https://ntfy.example.org/alerts-topic');
    assert.equal(endpoint.authorization, `Basic ${Buffer.from('robot:s3cr@t').toString('base64')}`);
    assert.equal(options.describe, 'https://ntfy.example.org');
    assert.ok(endpoint.redact.includes('s3cr@t'));
  });

  const bad: { params: Record<string, string>; env?: Record<string, string>; message: RegExp; hint?: RegExp }[] = [
    { params: {}, message: /url is missing/ },
    { params: { url: 'hooks.example.org/services/x' }, message: /url is not a valid URL/ },
    { params: { url: 'ftp://hooks.example.org/x' }, message: /http:\/\/ or https:\/\//i },
    { params: { url: 'env:HOOK_URL' }, message: /url = env:HOOK_URL, but HOOK_URL is not set/, hint: /\.env/ },
    { params: { url: 'env:HOOK_URL' }, env: { HOOK_URL: '  ' }, message: /HOOK_URL is not set/ },
    { params: { url: 'env:$(reboot)' }, message: /does not name an environment variable/ },
    { params: { url: URL_OK, format: 'discord' }, message: /format "discord" is not supported/, hint: /json, slack, teams, mattermost, ntfy/ },
    { params: { url: URL_OK, secret: 'env:WEBHOOK_SECRET' }, message: /WEBHOOK_SECRET is not set/ },
    { params: { url: URL_OK, secret: 'short' }, message: /secret is 5 characters long/, hint: /openssl rand/ },
    { params: { url: URL_OK, events: 'bans unbans' }, message: /events "unbans" is neither bans nor alerts/ },
    { params: { url: URL_OK, events: ' , ' }, message: /events is empty/ },
    { params: { url: URL_OK, notify_unban: 'sometimes' }, message: /notify_unban must be yes or no/ },
    { params: { url: URL_OK, digest: 'soon' }, message: /digest must be a duration/ },
    { params: { url: URL_OK, digest: '2d' }, message: /digest must be a duration from 0 s to 86400 s/ },
    { params: { url: URL_OK, timeout: '0' }, message: /timeout must be a duration/ },
    { params: { url: URL_OK, retries: '0' }, message: /retries must be a whole number of attempts from 1 to 100/ },
    { params: { url: URL_OK, retries: '2.5' }, message: /retries/ },
  ];
  for (const row of bad) {
    it(`${JSON.stringify(row.params)} → E_CONFIG naming jail.local:31`, () => {
      const err = configFailure(row.params, row.env);
      assert.equal(err.code, 'E_CONFIG');
      assert.deepEqual(err.location, { file: '/etc/asterisk-ban/jail.local', line: 31 });
      assert.match(err.describe(), /^\/etc\/asterisk-ban\/jail\.local:31: webhook: /);
      assert.match(err.message, row.message);
      if (row.hint) assert.match(err.hint ?? '', row.hint);
    });
  }

  it('no error ever echoes the URL, its token or the secret', () => {
    const hostile: Record<string, string>[] = [
      { url: `notaurl${TOKEN_PATH}` },
      { url: `gopher://hooks.example.org${TOKEN_PATH}` },
      { url: URL_OK, secret: 'tokenXyZ' },
      { url: URL_OK, format: 'bogus', secret: SECRET },
    ];
    for (const params of hostile) {
      const text = configFailure(params).describe();
      assert.equal(/tokenXyZ|querytoken|services\/T0AAAA/.test(text), false, text);
      assert.equal(text.includes(SECRET), false, text);
    }
  });
});

describe('webhook in the registry', () => {
  const spec = (params: Record<string, string>) => ({ name: 'webhook', params, file: '/etc/asterisk-ban/jail.local', line: 31 });

  it('is listed and built by createAction as a notify action with alert()', () => {
    assert.ok(actionNames().includes('webhook'));
    const a = createAction(spec({ url: URL_OK, format: 'teams' }), deps());
    assert.equal(a.kind, 'notify');
    assert.equal(a.id, 'webhook[asterisk]');
    assert.equal(typeof a.alert, 'function');
  });

  it('an unknown parameter is refused with a suggestion and the file:line', () => {
    const errors = validateInvocation(spec({ url: URL_OK, formt: 'slack' }));
    assert.equal(errors[0]?.code, 'E_CONFIG');
    assert.deepEqual(errors[0]?.location, { file: '/etc/asterisk-ban/jail.local', line: 31 });
    assert.match(errors[0]!.hint ?? '', /did you mean "format"/);
  });

  it('createAction throws the missing-variable error with its location', () => {
    assert.throws(() => createAction(spec({ url: 'env:HOOK_URL' }), deps()), (err: AsteriskBanError) => {
      assert.equal(err.code, 'E_CONFIG');
      assert.match(err.describe(), /^\/etc\/asterisk-ban\/jail\.local:31: webhook: url = env:HOOK_URL, but HOOK_URL is not set/);
      return true;
    });
  });
});
