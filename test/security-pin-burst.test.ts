import { startHarness, Harness } from './support/harness';
import { LOCKOUT } from '../api/pin-guard';

/**
 * The lockout is counted and enforced in one step: a burst of wrong PINs sent at once from one
 * client gets no more PIN checks than the limit allows, on login and on the timeclock alike.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());
beforeEach(async () => {
  await h.deps.knex('login_failures').delete();
});

const BURST = 20;
const burst = (path: string) =>
  Promise.all(Array.from({ length: BURST }, (_, i) => h.api('POST', path, { body: { pin: String(9000 + i) } })));
const failuresRecorded = async () => Number((await h.deps.knex('login_failures').count('* as n').first())!.n);

it.each(['/api/v1/auth/login', '/api/v1/timeclock/clock-in'])(
  'a concurrent burst of wrong PINs on %s checks no more PINs than the lockout allows',
  async (path) => {
    const answers = await burst(path);
    expect(answers.map((a) => a.status).filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(
      answers
        .filter((a) => a.status === 429)
        .every((a) => a.body.code === 'LOCKED_OUT' && Number(a.headers.get('retry-after')) > 0),
    ).toBe(true);
    // Every PIN that was checked left a failure; more than the limit means guesses got past the lockout.
    expect(await failuresRecorded()).toBe(LOCKOUT.failures);
    expect(answers.filter((a) => a.status === 401).length).toBeLessThan(LOCKOUT.failures);
  },
);

it('after a burst the right PIN from the same client is locked out too', async () => {
  await burst('/api/v1/auth/login');
  const right = await h.api('POST', '/api/v1/auth/login', { body: { pin: '1234' } });
  expect(right.status).toBe(429);
  expect(right.body.code).toBe('LOCKED_OUT');
});
