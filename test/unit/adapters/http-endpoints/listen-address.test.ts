import { expect } from 'chai';
import { formatListenAddress, InvalidListenAddress, parseListenAddress, type ListenAddress } from '../../../../src/adapters/http-endpoints/listen-address.js';

describe('http-endpoints parseListenAddress', () => {
  const accepted: Array<[string, ListenAddress]> = [
    [':8095', { host: undefined, port: 8095 }],
    [':9809', { host: undefined, port: 9809 }],
    ['0.0.0.0:8095', { host: '0.0.0.0', port: 8095 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['localhost:8095', { host: 'localhost', port: 8095 }],
    ['metrics.node-1.example:65535', { host: 'metrics.node-1.example', port: 65535 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
    ['[::]:8095', { host: '::', port: 8095 }],
    ['[fe80::1%eth0]:8095', { host: 'fe80::1%eth0', port: 8095 }],
    [':0', { host: undefined, port: 0 }],
  ];
  for (const [value, expected] of accepted) {
    it(`reads "${value}" as ${JSON.stringify(expected)}`, () => {
      expect(parseListenAddress(value)).to.deep.equal(expected);
    });
  }

  const refused: Array<[string, string]> = [
    ['8095', 'missing port'],
    ['', 'missing port'],
    ['127.0.0.1', 'missing port'],
    ['127.0.0.1:', 'missing port after ":"'],
    [':http', 'port "http" is not a number'],
    [':-1', 'port "-1" is not a number'],
    [':8095x', 'port "8095x" is not a number'],
    [':123456', 'port "123456" is not a number'],
    [':65536', 'port 65536 is out of range'],
    ['::1:9000', 'too many colons'],
    ['[::1:9000', 'missing "]"'],
    ['[not-v6]:9000', '"not-v6" is not an IPv6 address'],
    ['bad host:8095', '"bad host" is not a host name'],
    ['http://0.0.0.0:8095', 'too many colons'],
    ['-leading:8095', 'is not a host name'],
  ];
  for (const [value, message] of refused) {
    it(`refuses "${value}" saying ${JSON.stringify(message)}`, () => {
      expect(() => parseListenAddress(value)).to.throw(InvalidListenAddress, message);
    });
  }
});

describe('http-endpoints formatListenAddress', () => {
  const cases: Array<[ListenAddress, string]> = [
    [{ host: '127.0.0.1', port: 8095 }, '127.0.0.1:8095'],
    [{ host: '::1', port: 9000 }, '[::1]:9000'],
    [{ host: undefined, port: 8095 }, '[::]:8095'],
  ];
  for (const [address, expected] of cases) {
    it(`writes ${JSON.stringify(address)} as ${expected}`, () => {
      expect(formatListenAddress(address)).to.equal(expected);
    });
  }

  it('reads back what it writes', () => {
    for (const [address] of cases) {
      const again = parseListenAddress(formatListenAddress(address));
      expect(again.port).to.equal(address.port);
      expect(again.host).to.equal(address.host ?? '::');
    }
  });
});
