import { expect } from 'chai';
import { MAX_SOCKET_PATH_BYTES, parseCsiEndpoint } from '../../../../src/adapters/csi-grpc/endpoint.js';

describe('parseCsiEndpoint', () => {
  it('returns the absolute socket path of a unix:/// endpoint', () => {
    expect(parseCsiEndpoint('unix:///csi/csi.sock')).to.equal('/csi/csi.sock');
  });

  it('rejects unix://tmp/x, which gRPC would read as host "tmp"', () => {
    expect(() => parseCsiEndpoint('unix://tmp/csi.sock')).to.throw(/absolute/);
  });

  it('rejects every scheme but unix', () => {
    for (const endpoint of ['tcp://127.0.0.1:10000', '/csi/csi.sock', 'unix:/csi/csi.sock']) {
      expect(() => parseCsiEndpoint(endpoint), endpoint).to.throw(/only unix/);
    }
  });

  it(`accepts a socket path of ${MAX_SOCKET_PATH_BYTES} bytes and rejects one byte more`, () => {
    const fits = `/${'a'.repeat(MAX_SOCKET_PATH_BYTES - 1)}`;
    expect(parseCsiEndpoint(`unix://${fits}`)).to.equal(fits);
    expect(() => parseCsiEndpoint(`unix://${fits}b`)).to.throw(/more than 107/);
  });

  it('counts bytes, not characters', () => {
    const multiByte = `/${'é'.repeat(54)}`; // 108 bytes
    expect(() => parseCsiEndpoint(`unix://${multiByte}`)).to.throw(/bytes/);
  });

  it('rejects a path that names a directory', () => {
    expect(() => parseCsiEndpoint('unix:///csi/')).to.throw(/directory/);
  });
});
