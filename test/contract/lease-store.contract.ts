import { expect } from 'chai';
import type { LeaseRecord } from '../../src/domain/leader-lease.js';
import type { LeaseStore } from '../../src/ports/lease-store.js';

export interface LeaseStoreFixture {
  readonly leases: LeaseStore;
  close(): Promise<void>;
}

/** The LeaseStore port contract (each fixture gives a namespace of its own). */
export function leaseStoreContract(makeFixture: () => Promise<LeaseStoreFixture>): void {
  describe('LeaseStore contract', () => {
    let fixture: LeaseStoreFixture;

    beforeEach(async () => {
      fixture = await makeFixture();
    });
    afterEach(() => fixture.close());

    const T0 = Date.parse('2026-12-01T10:00:00.123Z');
    const record = (holder: string, overrides: Partial<LeaseRecord> = {}): LeaseRecord => ({ holder, durationMs: 15_000, acquireTime: T0, renewTime: T0 + 2_000, transitions: 0, ...overrides });

    it('creates a lease once and reads it back to the millisecond', async () => {
      expect(await fixture.leases.get('restarter')).to.equal(undefined);
      const created = await fixture.leases.create('restarter', record('a'));
      expect(created?.record).to.deep.equal(record('a'));
      expect(created?.version).to.be.a('string').and.not.equal('');
      expect(await fixture.leases.create('restarter', record('b')), 'a second create').to.equal(undefined);
      expect((await fixture.leases.get('restarter'))?.record.holder).to.equal('a');
    });

    it('updates only over the version it names', async () => {
      const created = (await fixture.leases.create('restarter', record('a')))!;
      const renewed = await fixture.leases.update('restarter', record('a', { renewTime: T0 + 4_000 }), created.version);
      expect(renewed?.record.renewTime).to.equal(T0 + 4_000);
      expect(renewed?.version).not.to.equal(created.version);
      expect(await fixture.leases.update('restarter', record('b', { transitions: 1 }), created.version), 'over a stale version').to.equal(undefined);
      expect((await fixture.leases.get('restarter'))?.record).to.deep.equal(record('a', { renewTime: T0 + 4_000 }));
    });

    it('refuses an update of a lease that does not exist', async () => {
      expect(await fixture.leases.update('nothing', record('a'), '1')).to.equal(undefined);
    });
  });
}
