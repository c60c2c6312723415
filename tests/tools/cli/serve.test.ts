// `bouquet serve` options: flags, environment variables, and one-line errors for bad input.
import { describe, expect, it } from 'vitest';
import { serveOptions } from '../../../tools/cli/serve.ts';

describe('bouquet serve options', () => {
  it('defaults to the bouquet combo (bouquet + bouquet, as in the simulator) on 127.0.0.1:8787 with the stories260K model', () => {
    const o = serveOptions([], {});
    expect(o).toMatchObject({ port: 8787, host: '127.0.0.1', policy: 'bouquet', placement: 'bouquet', routing: 'bouquet', model: '../shared/models/stories260K' });
  });

  it('keeps its signing key in a state dir: XDG by default, --state-dir or BOUQUET_STATE_DIR, none for a key of this process only', () => {
    expect(serveOptions([], { XDG_STATE_HOME: '/x/state' })).toMatchObject({ stateDir: '/x/state/bouquet' });
    expect(serveOptions(['--state-dir', '/tmp/b'], {})).toMatchObject({ stateDir: '/tmp/b' });
    expect(serveOptions([], { BOUQUET_STATE_DIR: '/tmp/c' })).toMatchObject({ stateDir: '/tmp/c' });
    expect(serveOptions(['--state-dir', 'none'], {})).not.toHaveProperty('stateDir');
  });

  it('a combo name means the same pair as in the simulator; --placement and --routing override its parts', () => {
    expect(serveOptions(['--policy', 'followup'], {})).toMatchObject({ placement: 'gbp-cr', routing: 'jffc' });
    expect(serveOptions(['--policy', 'followup', '--routing', 'ws-rr'], {})).toMatchObject({ placement: 'gbp-cr', routing: 'ws-rr' });
    expect(serveOptions(['--policy', 'bouquet'], {})).toMatchObject({ policy: 'bouquet', placement: 'bouquet', routing: 'bouquet' });
    expect(serveOptions([], { BOUQUET_POLICY: 'petals' })).toMatchObject({ placement: 'petals', routing: 'petals' });
  });

  it('reads flags, and environment variables where no flag is given', () => {
    const o = serveOptions(['--port', '0', '--routing', 'ws-rr', '--heartbeat-timeout-ms', '500', '--reserve-sessions', '3'], {
      BOUQUET_PORT: '9999',
      BOUQUET_HOST: '0.0.0.0',
      BOUQUET_PLACEMENT: 'gbp-cr',
      BOUQUET_LEASE_MS: '1000',
    });
    expect(o).toMatchObject({
      port: 0,
      host: '0.0.0.0',
      placement: 'gbp-cr',
      routing: 'ws-rr',
      placementOptions: { concurrentRequests: 3 },
      coordinator: { heartbeatTimeoutMs: 500, leaseMs: 1000 },
    });
  });

  it('keeps the admin token in the state dir unless one is given; extra origins from a list', () => {
    expect(serveOptions([], { HOME: '/home/someone', XDG_STATE_HOME: '/x/state' })).toMatchObject({ stateDir: '/x/state/bouquet', auth: {} });
    const given = serveOptions(['--admin-token', 'a-given-admin-token-0123', '--allow-origin', 'http://a.example, http://b.example:5173'], {});
    expect(given).toMatchObject({ auth: { adminToken: 'a-given-admin-token-0123', allowedOrigins: ['http://a.example', 'http://b.example:5173'] } });
  });

  it('sets how often clients check volunteers (verified results), flag or environment; a probation share below the known one is refused', () => {
    expect(serveOptions(['--verify-share', '0.1', '--verify-probation-share', '0.5'], {})).toMatchObject({ coordinator: { verify: { share: 0.1, probationShare: 0.5 } } });
    expect(serveOptions([], { BOUQUET_VERIFY_SHARE: '0' })).toMatchObject({ coordinator: { verify: { share: 0 } } });
    expect(serveOptions([], {})).not.toHaveProperty('coordinator.verify');
    for (const argv of [['--verify-share', '1.5'], ['--verify-share', '-0.1'], ['--verify-share', 'often'], ['--verify-share', '0.5', '--verify-probation-share', '0.2']]) {
      expect(() => serveOptions(argv, {})).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    }
  });

  it('answers --help', () => {
    expect(serveOptions(['--help'], {})).toBe('help');
  });

  it('serves several models with --model repeated (or BOUQUET_MODEL as a comma-separated list), in order; one stays a plain path', () => {
    expect(serveOptions(['--model', 'a', '--model', 'hf:o/r@v1'], {})).toMatchObject({ model: ['a', 'hf:o/r@v1'] });
    expect(serveOptions([], { BOUQUET_MODEL: 'a, b' })).toMatchObject({ model: ['a', 'b'] });
    expect(serveOptions(['--model', 'c'], { BOUQUET_MODEL: 'a,b' })).toMatchObject({ model: 'c' });
    expect(() => serveOptions(['--model', 'a', '--model', 'a'], {})).toThrow(expect.objectContaining({ code: 'bad-argument' }));
  });

  it.each([
    [['--policy', 'fastest']],
    [['--placement', 'random']],
    [['--routing', 'nearest']],
    [['--port', '-1']],
    [['--port', 'eighty']],
    [['--weights', 'int3']],
    [['--bogus']],
    [['stray-positional']],
  ])('rejects %j with a usage error', (argv) => {
    expect(() => serveOptions(argv, {})).toThrow();
  });
});
